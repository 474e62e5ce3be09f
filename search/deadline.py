"""A time budget for one search, checked by the engine at safe points.

The web layer gives each request a budget (`start` … `end`, or `within`); the engine calls
`check()` between steps that leave nothing half done (before a query is matched, before each
part of its evaluation, before each posting list is read), so running out of time never
interrupts a cache update, the file format's self-check or the query parser, and needs no
signal. A stream (an export) runs outside any budget: its rows are read a batch at a time.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

# (when the budget runs out, on the monotonic clock; the budget in seconds)
_budget: ContextVar[tuple[float, float] | None] = ContextVar("finsearch_search_budget", default=None)


class SearchTimeout(Exception):
    """The search ran past its budget; nothing it touched was left half done."""

    def __init__(self, seconds: float):
        super().__init__(f"the search took longer than its budget of {seconds:g} s")
        self.seconds = seconds


def start(seconds: float) -> Token:
    """Searches in this thread (or task) from now on must finish within `seconds`, and within the
    budget already running, if any: a budget inside another (a request's part) never extends it."""
    ends = time.monotonic() + seconds
    running = _budget.get()
    return _budget.set(running if running is not None and running[0] <= ends else (ends, seconds))


def end(token: Token) -> None:
    _budget.reset(token)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    token = start(seconds)
    try:
        yield
    finally:
        end(token)


def check() -> None:
    """Raises SearchTimeout if the current budget is spent."""
    budget = _budget.get()
    if budget is not None and time.monotonic() > budget[0]:
        raise SearchTimeout(budget[1])
