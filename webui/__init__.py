"""The web UI and JSON API (Flask): a search page, article pages and /api/*.

    app = create_app("/path/to/index")        # or $FINSEARCH_INDEX
    app = create_app(index_dir, TESTING=True)  # any Flask/app setting as a keyword

The web layer only talks to the public search API (`from search import ...`).
"""
from __future__ import annotations

import logging
import os

from flask import Flask, g
from flask.json.provider import DefaultJSONProvider

from finsearch.search import deadline
from finsearch.webui.service import SearchService

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MAX_REQUEST_BODY = 64 * 1024  # bytes: nothing here takes a body

# Every response: no inline script or style, nothing from elsewhere, no framing.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def env_port(default: int = DEFAULT_PORT) -> int:
    text = (os.environ.get("FINSEARCH_PORT") or "").strip()
    if not text:
        return default
    try:
        port = int(text)
    except ValueError:
        raise ValueError(f"FINSEARCH_PORT is not a port number: {text!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"FINSEARCH_PORT is out of range: {port}")
    return port


def create_app(index_dir=None, **config_overrides) -> Flask:
    """The Flask app, with its own SearchEngine on `index_dir` (else $FINSEARCH_INDEX, else the default)."""
    app = Flask(__name__)
    app.config.from_mapping(
        FINSEARCH_INDEX=os.environ.get("FINSEARCH_INDEX") or None,
        FINSEARCH_HOST=os.environ.get("FINSEARCH_HOST") or DEFAULT_HOST,
        FINSEARCH_PORT=env_port(),
        MAX_CONTENT_LENGTH=MAX_REQUEST_BODY,
        # Seconds a search may run before the app answers 503 itself (None: no limit); checked by the
        # engine between steps (search.deadline). A stream (an export) is not under it.
        FINSEARCH_REQUEST_BUDGET=None,
        # A server prepares each new index generation in the background and checks every byte of it;
        # a test client or the development server opens a new one with the first request that sees it.
        FINSEARCH_WATCH=False,
        # Exports and trends at once across the server's processes (None: no limit); `finsearch serve`
        # sets it, and the folder of their lock files (None: one of this app's own). See admission.py.
        FINSEARCH_HEAVY_REQUESTS=None,
        FINSEARCH_RUNTIME_DIR=None,
    )
    app.config.update(config_overrides)
    if index_dir is not None:
        app.config["FINSEARCH_INDEX"] = str(index_dir)
    assert isinstance(app.json, DefaultJSONProvider)  # Flask's own, unless configured otherwise
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    app.extensions["finsearch"] = SearchService(app.config["FINSEARCH_INDEX"], watch=app.config["FINSEARCH_WATCH"],
                                                verify=app.config["FINSEARCH_WATCH"])

    from finsearch.webui import admission, api, errors, health, pages, trends
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(health.bp)
    app.register_blueprint(trends.bp)
    errors.register(app)
    admission.install(app)
    if app.config["FINSEARCH_REQUEST_BUDGET"]:
        _install_budget(app, float(app.config["FINSEARCH_REQUEST_BUDGET"]))

    @app.after_request
    def _security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app


def _install_budget(app: Flask, seconds: float) -> None:
    """Each request's searches within `seconds`; the response body (a stream) is sent outside it."""
    @app.before_request
    def _start_budget() -> None:
        g.finsearch_budget = deadline.start(seconds)

    def _end_budget() -> None:
        token = g.pop("finsearch_budget", None)
        if token is not None:
            deadline.end(token)

    @app.after_request
    def _budget_done(response):
        _end_budget()
        return response

    app.teardown_request(lambda _error: _end_budget())


__all__ = ["create_app", "CONTENT_SECURITY_POLICY"]
