"""Webhook delivery, signed as Stripe signs: `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256>`.

The signed string is f"{t}.{body}" with the endpoint's `whsec_…` secret as the key. By default
each event is delivered right after the change, in a background thread, retried a few times on a
non-2xx answer or a connection error. Tests may hold events and release them late, twice, in any
order, or (re)send any event synchronously.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
import urllib.error
import urllib.request
from typing import Callable

from .objects import public

RETRY_DELAYS = (0.2, 0.5, 1.0)  # seconds before the 2nd, 3rd and 4th try


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def body(event: dict) -> bytes:
    return json.dumps(public(event), indent=2).encode()


class Webhooks:
    def __init__(self, secret: str):
        self.secret = secret
        self.endpoint: str | Callable[[bytes, dict], int] | None = None
        self.deliveries: list[dict] = []  # every try: {"event", "type", "status", "error"}
        self.held: list[dict] | None = None
        self._queue: queue.Queue = queue.Queue()
        self._busy = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="stripe-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        if self._thread:
            self._thread.join(timeout=10)

    def publish(self, event: dict) -> None:
        """Called for each new event: delivered in the background, or kept while events are held."""
        with self._lock:
            if self.held is not None:
                self.held.append(event)
                return
            self._busy += 1
        self._queue.put(event)

    def hold(self) -> None:
        with self._lock:
            if self.held is None:
                self.held = []

    def release(self, order: list[int] | None = None, twice: bool = False, background: bool = False) -> list[int]:
        """Stop holding; deliver what was held (in `order`, indexes into the held list; each twice if
        asked), synchronously unless `background`. Returns the statuses of the synchronous tries."""
        with self._lock:
            held, self.held = self.held or [], None
        events = [held[i] for i in order] if order is not None else held
        statuses = []
        for event in events:
            for _ in range(2 if twice else 1):
                if background:
                    with self._lock:
                        self._busy += 1
                    self._queue.put(event)
                else:
                    statuses.append(self.send(event))
        return statuses

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait until every background delivery (with its retries) is over."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._busy == 0:
                    return True
            time.sleep(0.01)
        return False

    def send(self, event: dict, timestamp: int | None = None, secret: str | None = None,
             payload: bytes | None = None, signed: bytes | None = None) -> int:
        """One delivery try, now, in this thread: the endpoint's HTTP status (0 when unreachable).
        `signed` is what the signature covers when it is not the payload (a tampered body)."""
        payload = body(event) if payload is None else payload
        timestamp = int(time.time()) if timestamp is None else timestamp
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                   "Stripe-Signature": signature(signed or payload, secret or self.secret, timestamp)}
        status, error = self._post(payload, headers)
        self.deliveries.append({"event": event["id"], "type": event["type"], "status": status, "error": error})
        return status

    def _post(self, payload: bytes, headers: dict) -> tuple[int, str | None]:
        endpoint = self.endpoint
        if endpoint is None:
            return 0, "no webhook endpoint"
        if callable(endpoint):
            try:
                return int(endpoint(payload, headers)), None
            except Exception as e:  # noqa: BLE001 - an endpoint's failure is a failed delivery
                return 0, repr(e)
        request = urllib.request.Request(endpoint, data=payload, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, None
        except urllib.error.HTTPError as e:
            e.close()
            return e.code, None
        except OSError as e:
            return 0, repr(e)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None or self._stopping.is_set():
                return
            try:
                for delay in (0.0, *RETRY_DELAYS):
                    if self._stopping.wait(delay) or self.endpoint is None or 200 <= self.send(event) < 300:
                        break
            finally:
                with self._lock:
                    self._busy -= 1
