"""`finsearch serve`: the app under gunicorn, threads in each worker process, one app and one
searcher per process (the engine serialises its searcher between the threads).

Slow clients cannot hold it: a connection reaches a thread only once its whole request (head and
a small body) is in, read without blocking by the worker's event loop within a deadline; a
response that a client does not take is given up after a while. See HeadBufferingWorker.
"""
from __future__ import annotations

import logging
import math
import os
import selectors
import shutil
import socket
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from finsearch.webui import DEFAULT_HOST, MAX_REQUEST_BODY, SECURITY_HEADERS, env_port

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 2
# Threads of a worker: requests waiting on a client or on the searcher (exports, slow readers),
# not more CPU: the searcher serves one thread at a time and Python one core per process.
DEFAULT_THREADS = 4
WORKER_TIMEOUT = 30  # s: gunicorn kills a worker whose event loop is silent for longer
# A search gets this share of --timeout less than the whole: the engine checks its budget between
# steps (search.deadline), so it answers 503 itself a little after the budget at the latest.
BUDGET_MARGIN = 0.2
# A client sends its whole request within this time or is let go (408); a real one needs milliseconds.
REQUEST_READ_TIMEOUT = 5  # s
MAX_REQUEST_HEAD = 64 * 1024  # bytes; gunicorn's own limits on the request line and fields apply after
# A client that takes no part of a response for this long is let go.
SEND_TIMEOUT = 30  # s
# The kernel holds this much of a response for a slow reader, so a page goes out without a thread waiting.
SEND_BUFFER = 512 * 1024  # bytes
_RECEIVE_CHUNK = 64 * 1024


def request_budget(timeout: float) -> float:
    return timeout * (1 - BUDGET_MARGIN)


def default_heavy_requests(workers: int) -> int:
    """Exports and trends at once across the workers: one per two workers, at least one."""
    return max(1, workers // 2)


def plain_response(status: int, reason: str) -> bytes:
    """A bodiless answer from the server itself, with the app's security headers."""
    headers = "".join(f"{name}: {value}\r\n" for name, value in SECURITY_HEADERS.items())
    return (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Length: 0\r\n{headers}\r\n"
            ).encode("latin-1")


class _HeaderedSocket:
    """A client socket whose error response gets the security headers after its status line."""

    def __init__(self, sock: Any):
        self._sock = sock

    def sendall(self, data: bytes) -> None:
        status, sep, rest = data.partition(b"\r\n")
        headers = "".join(f"{name}: {value}\r\n" for name, value in SECURITY_HEADERS.items())
        self._sock.sendall(status + sep + headers.encode("latin-1") + rest if sep else data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


INCOMPLETE, COMPLETE, WITH_BODY_LEFT, TOO_LARGE = "incomplete", "complete", "with body left", "too large"


def arrival(received: bytes) -> str:
    """How much of a request `received` holds: INCOMPLETE, COMPLETE (its head and any body),
    WITH_BODY_LEFT (a head whose body is not to be waited for: chunked, over the app's limit, or
    behind `Expect: 100-continue`; the app answers without it) or TOO_LARGE (a head past
    MAX_REQUEST_HEAD)."""
    end = received.find(b"\r\n\r\n")
    if end < 0:
        return TOO_LARGE if len(received) > MAX_REQUEST_HEAD else INCOMPLETE
    length = 0
    for line in received[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name in (b"transfer-encoding", b"expect"):
            return WITH_BODY_LEFT
        if name == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return COMPLETE  # gunicorn's parser answers 400
    if length > MAX_REQUEST_BODY:
        return WITH_BODY_LEFT
    return COMPLETE if len(received) >= end + 4 + length else INCOMPLETE


class HeadBufferingWorker(ThreadWorker):
    """Gunicorn's threaded worker, with a thread for a request only once the request is in.

    The stock worker hands a connection to a thread as soon as its first byte arrives, and the
    thread then blocks in the parser: a client sending a byte a second holds a thread, and a few
    of them hold the site. Here the event loop reads every new request (a new connection's, and
    each next one on a kept-alive connection) without blocking, up to REQUEST_READ_TIMEOUT for
    the whole head and a body of up to the app's limit, and hands the connection to a thread
    with the bytes in its parser's buffer. A request not in by then is answered 408 and closed.
    Responses: SEND_BUFFER lets the kernel hold a page for a slow reader, and SEND_TIMEOUT lets
    go of a reader that stops. The server's own error pages carry the security headers.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.arriving: deque = deque()  # connections whose request is being read, oldest deadline first
        self.busy_threads = 0

    def enqueue_req(self, conn):
        """Every way to a thread passes here (a new connection, a kept-alive one that turns
        readable, bytes read ahead): only a connection whose request is in goes on."""
        if getattr(conn, "request_in", False):
            self.busy_threads += 1
            if self.busy_threads >= self.cfg.threads:
                self.set_accept_enabled(False)  # let the other workers take the next connections
            super().enqueue_req(conn)
            return
        read_ahead = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        if not conn.initialized:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        conn.received = bytearray(read_ahead)
        conn.timeout = time.monotonic() + REQUEST_READ_TIMEOUT
        if arrival(conn.received) != INCOMPLETE:
            self.request_arrived(conn)
            return
        conn.sock.setblocking(False)
        self.arriving.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_request_bytes, conn))

    def on_request_bytes(self, conn, _sock) -> None:
        try:
            data = conn.sock.recv(_RECEIVE_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            conn.received += data
            state = arrival(conn.received)
            if state == INCOMPLETE:
                return
        self.poller.unregister(conn.sock)
        self.arriving.remove(conn)
        if not data:  # the client went away
            self.let_go(conn)
        elif state == TOO_LARGE:
            self.let_go(conn, plain_response(431, "Request Header Fields Too Large"))
        else:
            self.request_arrived(conn)

    def request_arrived(self, conn) -> None:
        conn.request_in = True
        conn.body_left = arrival(conn.received) == WITH_BODY_LEFT
        conn.data_ready = True
        self.enqueue_req(conn)

    def let_go(self, conn, answer: bytes = b"") -> None:
        self.nr_conns -= 1
        if answer:
            try:
                conn.sock.send(answer)  # best effort: the socket is non-blocking, the answer small
            except OSError:
                pass
        conn.close()

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        while self.arriving and self.arriving[0].timeout <= now:
            conn = self.arriving.popleft()
            self.poller.unregister(conn.sock)
            # A connection that sent nothing (a browser's spare one) is closed without a word.
            self.let_go(conn, plain_response(408, "Request Timeout") if conn.received else b"")

    def handle(self, conn):
        """In a thread: the request is in the connection's buffer."""
        conn.request_in = False
        received, conn.received = bytes(conn.received), bytearray()
        conn.init()
        conn.parser.unreader.unread(received)
        return super().handle(conn)

    def handle_request(self, req, conn):
        conn.sock.settimeout(SEND_TIMEOUT)
        try:
            return super().handle_request(req, conn)
        except TimeoutError:
            log.warning("let go of %s: it took no part of the response for %d s", conn.client[0], SEND_TIMEOUT)
            return False

    def _keepalive_after(self, conn, keepalive):
        # A body still on the wire is not worth a thread's wait: close instead of draining it.
        if conn.body_left:
            return False
        return super()._keepalive_after(conn, keepalive)

    def finish_request(self, conn, fs):
        self.busy_threads -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled):
        super().set_accept_enabled(enabled and self.busy_threads < self.cfg.threads)

    def handle_error(self, req, client, addr, exc):
        super().handle_error(req, _HeaderedSocket(client), addr, exc)


class _Server(BaseApplication):
    """Gunicorn with settings from Python instead of a command line; `load` runs in each worker
    after the fork (no preload), so every worker creates its own app and opens its own searcher."""

    def __init__(self, index_dir, options: dict, app_config: dict):
        self.index_dir = index_dir
        self.options = options
        self.app_config = app_config
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn are skipped
                self.cfg.set(key, value)

    def load(self):
        from finsearch.webui import create_app
        return create_app(self.index_dir, **self.app_config)


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def serve(index_dir=None, host: str | None = None, port: int | None = None, workers: int | None = None,
          timeout: float = WORKER_TIMEOUT, threads: int | None = None, heavy_requests: int | None = None) -> None:
    """Serve until interrupted. Defaults: $FINSEARCH_INDEX, $FINSEARCH_HOST or 127.0.0.1,
    $FINSEARCH_PORT or 8000, 2 workers of 4 threads, exports and trends one at a time per two
    workers. With no index yet it serves anyway (503 and /healthz saying so) and picks the index
    up once it appears, so a service manager doesn't restart it in a loop before the first
    nightly run. The heavy requests' slots are lock files in $RUNTIME_DIRECTORY (systemd's
    RuntimeDirectory=), else in a temporary folder of this server's."""
    from finsearch.search import IndexMissing
    from finsearch.search.engine import check_published, warm_up

    host = host or os.environ.get("FINSEARCH_HOST") or DEFAULT_HOST
    port = port if port is not None else env_port()
    workers = workers if workers is not None else DEFAULT_WORKERS
    threads = threads if threads is not None else DEFAULT_THREADS
    heavy_requests = heavy_requests if heavy_requests is not None else default_heavy_requests(workers)
    if workers < 1 or threads < 1 or heavy_requests < 1:
        raise ValueError("workers, threads and heavy requests must be at least 1")
    if index_dir is None:
        index_dir = os.environ.get("FINSEARCH_INDEX") or None
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    # A clear message in the log now if there is no index; the tokenizer's and the re-scoring's
    # dictionaries loaded once, for the workers to inherit with the fork (each opens the index).
    try:
        check_published(index_dir)
    except IndexMissing as error:
        log.warning("%s; serving 503 until it appears", error)
    warm_up()
    options = {
        "bind": bind_address(host, port),
        "workers": workers,
        "threads": threads,
        "worker_class": f"{__name__}.HeadBufferingWorker",
        "preload_app": False,
        "accesslog": "-",  # stdout
        "errorlog": "-",
        "loglevel": "info",
        "timeout": math.ceil(timeout),  # gunicorn takes whole seconds
        "graceful_timeout": 10,
        "proc_name": "finsearch",
        # Long query strings are refused by the app with a message, not by the server.
        "limit_request_line": 8190,
        # No runtime control socket (gunicorn >= 24 would put one in ~/.gunicorn, shared by every server).
        "control_socket_disable": True,
    }
    with _runtime_dir() as runtime_dir:
        app_config = {"FINSEARCH_REQUEST_BUDGET": request_budget(timeout),
                      "FINSEARCH_HEAVY_REQUESTS": heavy_requests, "FINSEARCH_RUNTIME_DIR": runtime_dir,
                      "FINSEARCH_WATCH": True}
        log.info("serving %s on http://%s with %d workers of %d threads, %d heavy requests at once",
                 index_dir or "the default index", options["bind"], workers, threads, heavy_requests)
        _Server(index_dir, options, app_config).run()


@contextmanager
def _runtime_dir() -> Iterator[str]:
    """systemd's runtime folder for this service, else a temporary one that the master removes at
    exit (a worker leaves through here too, and must not)."""
    given = os.environ.get("RUNTIME_DIRECTORY")
    if given:
        yield given.split(":")[0]  # several folders are listed with colons
        return
    folder, master = tempfile.mkdtemp(prefix="finsearch-"), os.getpid()
    try:
        yield folder
    finally:
        if os.getpid() == master:
            shutil.rmtree(folder, ignore_errors=True)
