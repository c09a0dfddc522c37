"""The server's in-memory account: every object by id, its clock, and the events it emits."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from . import objects
from .wire import missing


class Account:
    def __init__(self, now=None, checkout_base: str = "", three_ds_base: str = "", publish=None):
        self.lock = threading.RLock()
        self.objects: dict[str, dict] = {}
        self.offset = 0
        self._now = now or time.time
        self.checkout_base = checkout_base
        self.three_ds_base = three_ds_base
        self.publish = publish or (lambda event: None)
        self._request: tuple[str | None, str | None] = (None, None)

    def now(self) -> int:
        return int(self._now()) + self.offset

    def add(self, obj: dict) -> dict:
        with self.lock:
            self.objects[obj["id"]] = obj
        return obj

    def find(self, object_id: str) -> dict | None:
        return self.objects.get(object_id) if isinstance(object_id, str) else None

    def get(self, object_id: str, kind: str, param: str = "id") -> dict:
        obj = self.find(object_id)
        if obj is None or obj["object"] != kind:
            raise missing(kind, object_id, param)
        return obj

    def all(self, kind: str) -> list[dict]:
        """Every object of a kind, oldest first."""
        with self.lock:
            return [o for o in self.objects.values() if o["object"] == kind]

    @contextmanager
    def request(self, request_id: str | None, idempotency_key: str | None):
        """Events emitted inside carry the API request that caused them (as Stripe's do)."""
        saved, self._request = self._request, (request_id, idempotency_key)
        try:
            yield
        finally:
            self._request = saved

    def emit(self, type_: str, obj: dict, previous: dict | None = None) -> dict:
        event = objects.event(self.now(), type_, objects.public(obj), *self._request, previous=previous)
        self.add(event)
        self.publish(event)
        return event
