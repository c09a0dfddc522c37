"""A small threaded HTTP server (the standard library's) that can also hang up without answering."""
from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import urlsplit

DROP = object()  # a handler's answer meaning: close the connection, send nothing


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Site:
    """One origin: a handler (Request -> Response or DROP) served on 127.0.0.1 and a free port."""

    def __init__(self, handler: Callable[[Request], object], host: str = "127.0.0.1", port: int = 0):
        site = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, parts.query,
                                  {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                answer = handler(request)
                if answer is DROP:
                    self.close_connection = True
                    try:
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    except OSError:
                        pass
                    return
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

            do_GET = do_POST = do_DELETE = do_HEAD = _serve

            def log_message(self, format, *args):  # noqa: A002 - the standard library's name
                site.log.append(format % args)

        self.log: list[str] = []
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = host, self.httpd.server_address[1]
        self.origin = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name=f"site-{self.port}",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)
