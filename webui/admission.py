"""Admission control: heavy requests (exports, trends) run within a bounded share of the server.

At most FINSEARCH_HEAVY_REQUESTS of them at once across every worker process of a server: each
holds one of that many lock files in FINSEARCH_RUNTIME_DIR (flock, so the kernel releases a slot
when its process dies, and two threads of one process exclude each other too). One more is
answered 429 with Retry-After and a message saying why, so ordinary searches keep their share.
A streaming response keeps its slot until the server closes it (its last byte sent, or the
client gone), not only until the view returns. And it gives way: its next piece is made only
when its process serves no ordinary request (or after MAX_GIVE_WAY), so a search that lands in
the process of an export has the searcher and Python's one running thread to itself.

    install(app)  # by create_app; FINSEARCH_HEAVY_REQUESTS None: no limit (tests, `flask run`)
"""
from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from flask import Flask, Response, g, jsonify, make_response, request

from finsearch.webui import errors

log = logging.getLogger(__name__)

# The views whose work grows with the archive, not with a page: every post of a search, or
# every term's matches over the whole span.
HEAVY_ENDPOINTS = frozenset({"pages.export", "trends.page", "trends.csv_download", "trends.api_trends"})
RETRY_AFTER = 10  # s: about what an export of a large search takes
BUSY_MESSAGE = f"导出和趋势分析正在处理其他请求，已达同时处理的上限，请 {RETRY_AFTER} 秒后再试（普通搜索不受影响）"
BUSY_CODE = "busy"
# How long a heavy stream waits for the ordinary requests of its process before it makes its next
# piece anyway (a piece is a hundred rows of an export), and how often it looks.
MAX_GIVE_WAY = 0.25  # s
GIVE_WAY_STEP = 0.005  # s


class HeavySlot:
    """One held slot; release() is idempotent."""

    def __init__(self, fd: int):
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops its flock
            self._fd = None


class HeavySlots:
    """`count` slots shared by every process that uses the same folder."""

    def __init__(self, folder: str | Path, count: int):
        self.folder = Path(folder)
        self.count = count

    def acquire(self) -> HeavySlot | None:
        """A free slot, or None when all are held (never waits)."""
        for number in range(self.count):
            fd = os.open(self.folder / f"heavy-{number}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return HeavySlot(fd)
        return None


class OrdinaryRequests:
    """How many ordinary (not heavy) requests this process is serving now."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            self._count += 1

    def leave(self) -> None:
        with self._lock:
            self._count -= 1

    def __bool__(self) -> bool:
        return self._count > 0


def giving_way(pieces: Iterable, ordinary: OrdinaryRequests) -> Iterator:
    """`pieces`, each one asked for only once `ordinary` is empty (or MAX_GIVE_WAY has passed)."""
    iterator = iter(pieces)
    try:
        while True:
            waited = 0.0
            while ordinary and waited < MAX_GIVE_WAY:
                time.sleep(GIVE_WAY_STEP)
                waited += GIVE_WAY_STEP
            try:
                piece = next(iterator)
            except StopIteration:
                return
            yield piece
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


def is_heavy() -> bool:
    """Whether this request is a heavy one; the trends page with no term is only its empty form."""
    if request.endpoint == "trends.page":
        return any(term.strip() for term in request.args.getlist("q"))
    return request.endpoint in HEAVY_ENDPOINTS


def busy() -> Response:
    if request.path.startswith("/api/"):
        response = make_response(jsonify(error=BUSY_MESSAGE, code=BUSY_CODE), 429)
    else:
        response = errors.respond(429, BUSY_MESSAGE)
    response.headers["Retry-After"] = str(RETRY_AFTER)
    response.headers["Cache-Control"] = "no-store"
    return response


def install(app: Flask) -> None:
    count = app.config["FINSEARCH_HEAVY_REQUESTS"]
    if not count:
        return
    folder = app.config["FINSEARCH_RUNTIME_DIR"]
    if folder is None:  # a folder of this app's own, removed with it
        own = tempfile.TemporaryDirectory(prefix="finsearch-")
        app.extensions["finsearch.admission_dir"] = own
        folder = own.name
    slots = HeavySlots(folder, int(count))
    ordinary = OrdinaryRequests()

    @app.before_request
    def _admit():
        if not is_heavy():
            ordinary.enter()
            g.ordinary_request = True
            return None
        slot = slots.acquire()
        if slot is None:
            log.info("refused %s: %d heavy requests running", request.path, slots.count)
            return busy()
        g.heavy_slot = slot
        return None

    @app.after_request
    def _keep_until_closed(response: Response) -> Response:
        slot = g.pop("heavy_slot", None)
        if slot is not None:
            response.call_on_close(slot.release)
            if response.is_streamed:
                response.response = giving_way(response.response, ordinary)
        return response

    @app.teardown_request
    def _release_unanswered(_error: BaseException | None) -> None:
        slot = g.pop("heavy_slot", None)  # still here only when no response was made
        if slot is not None:
            slot.release()
        if g.pop("ordinary_request", False):
            ordinary.leave()
