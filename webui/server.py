"""`finsearch serve`: the app under gunicorn (sync workers), one app and one searcher per worker."""
from __future__ import annotations

import logging
import os
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.sync import SyncWorker

from finsearch.webui import DEFAULT_HOST, SECURITY_HEADERS, env_port

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 2
WORKER_TIMEOUT = 30  # s: gunicorn kills a worker silent for longer
# The app answers a slow request itself this long before gunicorn's timeout would kill the worker.
BUDGET_MARGIN = 0.2


def request_budget(timeout: float) -> float:
    return timeout * (1 - BUDGET_MARGIN)


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


class SecureSyncWorker(SyncWorker):
    """Gunicorn's sync worker whose own error pages (a bad request line, a worker killed on
    timeout) carry the same security headers as the app's."""

    def handle_error(self, req, client, addr, exc):
        super().handle_error(req, _HeaderedSocket(client), addr, exc)


class _Server(BaseApplication):
    """Gunicorn with settings from Python instead of a command line; `load` runs in each worker
    after the fork (no preload), so every worker creates its own app and opens its own searcher."""

    def __init__(self, index_dir, options: dict):
        self.index_dir = index_dir
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn are skipped
                self.cfg.set(key, value)

    def load(self):
        from finsearch.webui import create_app
        return create_app(self.index_dir, FINSEARCH_REQUEST_BUDGET=request_budget(self.cfg.timeout),
                          FINSEARCH_WATCH=True)


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def serve(index_dir=None, host: str | None = None, port: int | None = None, workers: int | None = None,
          timeout: float = WORKER_TIMEOUT) -> None:
    """Serve until interrupted. Defaults: $FINSEARCH_INDEX, $FINSEARCH_HOST or 127.0.0.1,
    $FINSEARCH_PORT or 8000, 2 workers. With no index yet it serves anyway (503 and /healthz
    saying so) and picks the index up once it appears, so a service manager doesn't restart it
    in a loop before the first nightly run."""
    from finsearch.search import IndexMissing, SearchEngine
    from finsearch.search.query import parse_query

    host = host or os.environ.get("FINSEARCH_HOST") or DEFAULT_HOST
    port = port if port is not None else env_port()
    workers = workers if workers is not None else DEFAULT_WORKERS
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if index_dir is None:
        index_dir = os.environ.get("FINSEARCH_INDEX") or None
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    # Open the index once now: a clear message in the log, and the tokenizer's dictionaries
    # loaded once for the workers to inherit with the fork.
    try:
        SearchEngine(index_dir).close()
    except IndexMissing as error:
        log.warning("%s; serving 503 until it appears", error)
        parse_query("预热 warm-up")
    options = {
        "bind": bind_address(host, port),
        "workers": workers,
        "worker_class": f"{__name__}.SecureSyncWorker",
        "preload_app": False,
        "accesslog": "-",  # stdout
        "errorlog": "-",
        "loglevel": "info",
        "timeout": timeout,
        "graceful_timeout": 10,
        "proc_name": "finsearch",
        # Long query strings are refused by the app with a message, not by the server.
        "limit_request_line": 8190,
        # No runtime control socket (gunicorn >= 24 would put one in ~/.gunicorn, shared by every server).
        "control_socket_disable": True,
    }
    log.info("serving %s on http://%s with %d workers", index_dir or "the default index",
             options["bind"], workers)
    _Server(index_dir, options).run()
