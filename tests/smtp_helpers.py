"""Local mail servers for the tests: one that speaks just enough SMTP, one that never answers."""
from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from typing import Iterator


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept mail: records each message's envelope and data."""

    def handle(self):
        self.wfile.write(b"220 test ESMTP\r\n")
        envelope: dict = {"rcpt": []}
        while line := self.rfile.readline():
            verb = line.decode().strip().upper()
            if verb.startswith(("EHLO", "HELO")):
                self.wfile.write(b"250 test\r\n")
            elif verb.startswith("MAIL FROM"):
                envelope = {"from": line.decode().strip(), "rcpt": []}
                self.wfile.write(b"250 ok\r\n")
            elif verb.startswith("RCPT TO"):
                envelope["rcpt"].append(line.decode().strip())
                self.wfile.write(b"250 ok\r\n")
            elif verb == "DATA":
                self.wfile.write(b"354 go ahead\r\n")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(chunk.decode())
                envelope["data"] = "".join(data)
                self.server.received.append(envelope)
                self.wfile.write(b"250 queued\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@contextlib.contextmanager
def smtp_server() -> Iterator[socketserver.ThreadingTCPServer]:
    """A local SMTP server; `.received` holds each message's envelope and data."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_server() -> Iterator[dict]:
    """A server that accepts connections and never reads or answers: a mail server that hangs.

    Yields {"port", "accepted": [sockets], "read": bytes it would have read (always b"")}.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    state = {"port": listener.getsockname()[1], "accepted": [], "read": b""}
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            state["accepted"].append(conn)  # held open, never read

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join(2)
        for conn in state["accepted"]:
            conn.close()
        listener.close()
