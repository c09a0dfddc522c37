"""`pops serve --workers N` on Linux: N server processes, each listening on its own socket bound to the same
address (SO_REUSEPORT), so that the kernel spreads new connections evenly over them.

With one socket shared by every process (uvicorn's own way), whichever process wakes first takes every
connection waiting at that moment: 50 keep-alive connections opened at once, or a proxy's pool of them, often
all land on one process while the others idle. Here each connection is placed by a hash of its addresses.

This process only supervises: it starts the workers, starts a new one (with a new socket) for a worker that
died, and stops them all on SIGTERM or SIGINT. A worker that could not start (its app's settings, say) stops
the server, as with uvicorn. Elsewhere than Linux, uvicorn's workers share one socket (pops.cli._serve).
"""
from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
from pathlib import Path

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("uvicorn.error")

SPREADS = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
STOP_SECONDS = 30  # a worker still finishing its requests after this long is killed
_spawn = multiprocessing.get_context("spawn")  # a fresh interpreter each, as uvicorn's workers


class AddressInUse(Exception):
    """Something already listens on the address: another server, or another `pops serve`."""


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _listening_socket(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP named, as uvicorn names it: asyncio sets TCP_NODELAY only on a connection whose socket says so,
    # and without it an answer written in two parts waits on the client's delayed acknowledgement.
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _free(host: str, port: int) -> int:
    """The port, checked free by a bind without SO_REUSEPORT (which a listening `pops serve` would let through);
    port 0: the one the system chose."""
    probe = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        return probe.getsockname()[1]
    except OSError as exc:
        raise AddressInUse(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    finally:
        probe.close()


def listening_sockets(port: int) -> int | None:
    """How many sockets listen on IPv4 `port` (Linux's /proc/net/tcp, state 0A): one per worker once each has
    started (a bench or a test waits for that); None where that cannot be read."""
    try:
        rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    except OSError:
        return None
    return sum(1 for row in rows if row[3] == "0A" and int(row[1].split(":")[1], 16) == port)


def _worker(config: uvicorn.Config, sock: socket.socket) -> None:
    """A worker process: uvicorn's server on its own socket."""
    config.configure_logging()
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl+C reaches every process of the terminal's group: the server stops itself
        pass


class Workers:
    def __init__(self, config: uvicorn.Config, count: int) -> None:
        self.config, self.count = config, count
        self.processes: list = []
        self.stopping = threading.Event()

    def _start(self):
        sock = _listening_socket(self.config.host, self.config.port)
        process = _spawn.Process(target=_worker, args=(self.config, sock))
        try:
            process.start()
        finally:
            sock.close()  # the worker has its copy: when it ends, so does its place on the port
        return process

    def run(self) -> int:
        self.config.port = _free(self.config.host, self.config.port)
        previous = {sig: signal.signal(sig, lambda *_: self.stopping.set()) for sig in (signal.SIGINT,
                                                                                       signal.SIGTERM)}
        logger.info("POPS serving on http://%s:%d with %d worker processes (each its own socket)",
                    self.config.host, self.config.port, self.count)
        failed = False
        try:
            self.processes = [self._start() for _ in range(self.count)]
            while not self.stopping.wait(0.5):
                for index, process in enumerate(self.processes):
                    if process.is_alive():
                        continue
                    if process.exitcode == STARTUP_FAILURE:
                        logger.error("Worker process [%s] could not start; stopping.", process.pid)
                        failed = True
                        self.stopping.set()
                        break
                    logger.warning("Worker process [%s] ended (%s); starting another.", process.pid,
                                   process.exitcode)
                    self.processes[index] = self._start()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return STARTUP_FAILURE if failed else 0

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way, then its lifespan
        for process in self.processes:
            process.join(STOP_SECONDS)
            if process.is_alive():
                logger.warning("Worker process [%s] did not stop in %d s; killed.", process.pid, STOP_SECONDS)
                process.kill()
                process.join()
