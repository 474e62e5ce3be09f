"""A time budget per request, below gunicorn's worker timeout.

When gunicorn's timeout kills a worker, the client gets gunicorn's own bare 500.
So the app stops a request that runs past its budget itself (SIGALRM in the
worker's main thread, where sync workers run requests) and answers a 503 page
of its own, with the security headers. Off where requests run in other threads
(the development server, which has no timeout to beat).
"""
from __future__ import annotations

import signal
import threading

from flask import Flask


class RequestTimeout(Exception):
    """The request ran past the app's time budget."""


def install(app: Flask, seconds: float) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def _expired(signum, frame):
        raise RequestTimeout(f"request took longer than {seconds:g} s")

    signal.signal(signal.SIGALRM, _expired)

    @app.before_request
    def _start_budget() -> None:
        if threading.current_thread() is threading.main_thread():
            signal.setitimer(signal.ITIMER_REAL, seconds)

    @app.teardown_request
    def _stop_budget(_error: BaseException | None) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.setitimer(signal.ITIMER_REAL, 0)
