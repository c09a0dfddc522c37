"""Stripe's wire format: bracket-notation forms, error objects, ids and `expand[]`."""
from __future__ import annotations

import copy
import re
import secrets
import string
from urllib.parse import parse_qsl

_ALPHABET = string.ascii_letters + string.digits
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def new_id(prefix: str, length: int = 24) -> str:
    """An id in Stripe's style: `pi_3Q…`, `cs_test_a1…`."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


class StripeError(Exception):
    """An error answer in Stripe's shape: {"error": {"type", "message", "code", "param", ...}}."""

    def __init__(self, status: int, type_: str, message: str, code: str | None = None,
                 param: str | None = None, headers: dict | None = None, **extra):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.body = {"type": type_, "message": message}
        if code:
            self.body["code"] = code
            self.body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.body["param"] = param
        self.body.update({k: v for k, v in extra.items() if v is not None})

    def payload(self) -> dict:
        return {"error": self.body}


def invalid(message: str, param: str | None = None, code: str | None = None, status: int = 400) -> StripeError:
    return StripeError(status, "invalid_request_error", message, code=code, param=param)


def missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(404, "invalid_request_error", f"No such {kind}: '{object_id}'",
                       code="resource_missing", param=param)


def parse_form(raw: str) -> dict:
    """Decode `a[b][0][c]=1&expand[]=x&metadata[k]=v` into nested dicts and lists.

    A dict whose keys are all digits becomes a list in index order; `a[]` appends.
    Raises StripeError for a key Stripe would not accept (unbalanced brackets, mixed shapes).
    """
    root: dict = {}
    for key, value in parse_qsl(raw, keep_blank_values=True, strict_parsing=False):
        match = _KEY.match(key)
        if not match:
            raise invalid(f"Invalid parameter name: {key}", param=key)
        parts = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":  # a[]: the next list index
                part = str(sum(1 for k in node if k.isdigit()))
            if last:
                if isinstance(node.get(part), dict):
                    raise invalid(f"Invalid hash for {key}", param=key)
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise invalid(f"Invalid hash for {key}: it was already given a value", param=key)
                node = child
    return _listify(root)


def _listify(node):
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


def as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):  # a[1]=x alone
        return [value[k] for k in sorted(value)]
    return [value]


def integer(params: dict, name: str, required: bool = False, label: str | None = None) -> int | None:
    value = params.get(name)
    label = label or name
    if value is None or value == "":
        if required:
            raise invalid(f"Missing required param: {label}.", param=label, code="parameter_missing")
        return None
    if not isinstance(value, str) or not re.fullmatch(r"-?\d{1,15}", value):
        raise invalid(f"Invalid integer: {value}", param=label, code="parameter_invalid_integer")
    return int(value)


def boolean(params: dict, name: str) -> bool:
    value = params.get(name)
    if value in (None, "", "false"):
        return False
    if value == "true":
        return True
    raise invalid(f"Invalid boolean: {value}", param=name, code="parameter_invalid_boolean")


def text(params: dict, name: str, required: bool = False, label: str | None = None) -> str | None:
    value = params.get(name)
    label = label or name
    if value is None or value == "":
        if required:
            raise invalid(f"Missing required param: {label}.", param=label, code="parameter_missing")
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid string: {label}", param=label, code="parameter_invalid_string")
    return value


def metadata(params: dict, name: str = "metadata", current: dict | None = None) -> dict:
    """Stripe's metadata rules: string values, an empty value removes a key, at most 50 keys."""
    result = dict(current or {})
    given = params.get(name)
    if given is None:
        return result
    if given == "":
        return {}
    if not isinstance(given, dict):
        raise invalid("Invalid hash", param=name)
    for key, value in given.items():
        if not isinstance(value, str):
            raise invalid("Invalid metadata value: must be a string", param=f"{name}[{key}]")
        if len(key) > 40 or len(value) > 500:
            raise invalid("Metadata keys are at most 40 characters and values at most 500.", param=f"{name}[{key}]")
        if value == "":
            result.pop(key, None)
        else:
            result[key] = value
    if len(result) > 50:
        raise invalid("Metadata can have at most 50 keys.", param=name)
    return result


def expand(obj, paths: list[str], lookup) -> dict:
    """A copy of obj with each dotted path in `paths` expanded: an id string becomes its object."""
    obj = copy.deepcopy(obj)
    for path in paths:
        _expand_path(obj, path.split("."), lookup, path)
    return obj


def _expand_path(node, parts, lookup, path):
    if not parts or node is None:
        return
    if isinstance(node, dict) and node.get("object") == "list" and parts[0] == "data":
        for item in node.get("data", []):
            _expand_path(item, parts[1:], lookup, path)
        return
    if not isinstance(node, dict) or parts[0] not in node:
        raise invalid(f"This property cannot be expanded ({path}).", param="expand")
    value = node[parts[0]]
    if isinstance(value, str):
        found = lookup(value)
        if found is None:
            raise invalid(f"This property cannot be expanded ({path}).", param="expand")
        value = node[parts[0]] = copy.deepcopy(found)
    _expand_path(value, parts[1:], lookup, path)
