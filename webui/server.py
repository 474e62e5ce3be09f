"""`finsearch serve`: the app under gunicorn (sync workers), one app and one searcher per worker."""
from __future__ import annotations

import logging
import os

from gunicorn.app.base import BaseApplication

from finsearch.webui import DEFAULT_HOST, env_port

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 2


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
        return create_app(self.index_dir)


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def serve(index_dir=None, host: str | None = None, port: int | None = None, workers: int | None = None) -> None:
    """Serve until interrupted. Defaults: $FINSEARCH_INDEX, $FINSEARCH_HOST or 127.0.0.1,
    $FINSEARCH_PORT or 8000, 2 workers. Raises search.IndexMissing at once if there is no index."""
    from finsearch.search import SearchEngine

    host = host or os.environ.get("FINSEARCH_HOST") or DEFAULT_HOST
    port = port if port is not None else env_port()
    workers = workers if workers is not None else DEFAULT_WORKERS
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if index_dir is None:
        index_dir = os.environ.get("FINSEARCH_INDEX") or None
    # Fail now with a clear message rather than in every worker. This also loads the
    # tokenizer's dictionaries once, and the workers inherit them with the fork.
    SearchEngine(index_dir).close()
    options = {
        "bind": bind_address(host, port),
        "workers": workers,
        "worker_class": "sync",
        "preload_app": False,
        "accesslog": "-",  # stdout
        "errorlog": "-",
        "loglevel": "info",
        "timeout": 30,
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
