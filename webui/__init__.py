"""The web UI and JSON API (Flask): a search page, article pages and /api/*.

    app = create_app("/path/to/index")        # or $FINSEARCH_INDEX
    app = create_app(index_dir, TESTING=True)  # any Flask/app setting as a keyword

The web layer only talks to the public search API (`from search import ...`).
"""
from __future__ import annotations

import logging
import os

from flask import Flask
from flask.json.provider import DefaultJSONProvider

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
        # Index stats (document count, newest day = "now" for 近一周/近一月/近一年) are re-read this often (s).
        FINSEARCH_STATS_TTL=300,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BODY,
        # Seconds a request may run before the app answers 503 itself (None: no limit); `finsearch serve`
        # sets it below gunicorn's worker timeout.
        FINSEARCH_REQUEST_BUDGET=None,
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

    app.extensions["finsearch"] = SearchService(app.config["FINSEARCH_INDEX"],
                                                stats_ttl=app.config["FINSEARCH_STATS_TTL"])

    from finsearch.webui import admission, api, budget, errors, health, pages, trends
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(health.bp)
    app.register_blueprint(trends.bp)
    errors.register(app)
    admission.install(app)
    if app.config["FINSEARCH_REQUEST_BUDGET"]:
        budget.install(app, float(app.config["FINSEARCH_REQUEST_BUDGET"]))

    @app.after_request
    def _security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app


__all__ = ["create_app", "CONTENT_SECURITY_POLICY"]
