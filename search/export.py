"""Every hit of a search as CSV or JSON Lines, streamed: shared by `finsearch export` and /export.*.

`Export` reads the rows from the generation the export started on, held to the last row.

One row per post (reprints included: a reporter counting coverage wants every paper's post), so
the row count is the search's `articles`, not its `total` of stories; `story` names the story a
row belongs to, so reprints can be counted once in a spreadsheet. The snippet is plain text.
`day` and `time` are the site's local date and time as a spreadsheet reads them natively (`date`
keeps the full ISO 8601 form). CSV cells that a spreadsheet would run as a formula are guarded.
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from finsearch import storage
from finsearch.search import present
from finsearch.search.collect import ordered
from finsearch.search.matching import match, tiers
from finsearch.search.snapshot import Snapshots
from finsearch.search.types import Hit, SearchError, SearchRequest

EXPORT_COLUMNS = ("id", "date", "paper", "categories", "title", "url", "snippet", "story", "day", "time", "headline")
OPTIONAL_COLUMNS = ("body",)  # only when asked for (`fields=`): the whole text makes a file large
EXPORT_FORMATS = ("csv", "jsonl")
CSV_BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only with it
CATEGORY_SEPARATOR = ","  # the categories of one post in one CSV cell
ROWS_PER_CHUNK = 100  # rows joined into one piece of the stream
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run a cell starting so
_TAG = re.compile(r"<[^>]+>")

_VALUES: dict[str, Callable[[Hit], object]] = {
    "id": lambda hit: hit.id,
    "date": lambda hit: hit.date.isoformat(),
    "paper": lambda hit: hit.paper,
    "categories": lambda hit: list(hit.categories),
    "title": lambda hit: hit.title,
    "url": lambda hit: hit.url,
    "snippet": lambda hit: plain_text(hit.snippet),
    "story": lambda hit: hit.story,
    "day": lambda hit: hit.date.strftime("%Y-%m-%d"),
    "time": lambda hit: hit.date.strftime("%H:%M:%S"),
    "headline": lambda hit: hit.headline,
    "body": lambda hit: hit.body,
}


def plain_text(fragment: str) -> str:
    """An escaped HTML snippet (matches in <mark>) as plain text."""
    return html.unescape(_TAG.sub("", fragment))


def spreadsheet_cell(text: str) -> str:
    """`text` as a spreadsheet shows it, never runs it: a leading ' where it would start a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def export_columns(fields: str | None) -> tuple[str, ...]:
    """The columns `fields` names, comma-separated, in its order (None or blank: EXPORT_COLUMNS);
    raises SearchError for a name that is not a column."""
    if not fields or not fields.strip():
        return EXPORT_COLUMNS
    names = tuple(dict.fromkeys(name.strip() for name in fields.split(",") if name.strip()))
    for name in names:
        if name not in _VALUES:
            raise SearchError("unknown_field", "fields", value=name[:40], choices=list(_VALUES))
    return names or EXPORT_COLUMNS


def export_row(hit: Hit, columns: Sequence[str] = EXPORT_COLUMNS) -> dict:
    return {column: _VALUES[column](hit) for column in columns}


def csv_chunks(hits: Iterable[Hit], columns: Sequence[str] = EXPORT_COLUMNS) -> Iterator[str]:
    """The BOM and the header, then the rows, a few at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(CSV_BOM)
    writer.writerow(columns)
    for number, hit in enumerate(hits, start=1):
        row = export_row(hit, columns)
        if "categories" in row:
            row["categories"] = CATEGORY_SEPARATOR.join(row["categories"])
        writer.writerow([spreadsheet_cell(row[column]) for column in columns])
        if number % ROWS_PER_CHUNK == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def jsonl_chunks(hits: Iterable[Hit], columns: Sequence[str] = EXPORT_COLUMNS) -> Iterator[str]:
    """One JSON object a line, a few lines at a time."""
    lines: list[str] = []
    for hit in hits:
        lines.append(json.dumps(export_row(hit, columns), ensure_ascii=False) + "\n")
        if len(lines) == ROWS_PER_CHUNK:
            yield "".join(lines)
            lines.clear()
    if lines:
        yield "".join(lines)


EXPORTERS = {"csv": csv_chunks, "jsonl": jsonl_chunks}


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


EXPORT_BATCH = 200  # posts read at a time while streaming every hit


class Export:
    """Every hit of a search, reprints included (each its own hit), in the request's order, from the
    generation it started on, held until the last row is read or `close()` is called (a web
    response closes it when the client goes). Rows are read a batch at a time, by a reader of its
    own (searches keep the shared one), so memory holds the ordered docnums and one batch."""

    def __init__(self, snapshots: Snapshots, request: SearchRequest, batch_size: int = EXPORT_BATCH):
        self._hold: Any = snapshots.acquire()
        snap = self._hold.__enter__()
        try:
            matched = match(snap, request, scored=request.sort.by_score)
            docs = matched.kept
            ranks = tiers(snap, matched.parsed, docs, request.sort)
            self._ordered = ordered(snap.table, docs, matched.kept_scores, ranks, request.sort)
        except BaseException:
            self._release()
            raise
        self._snap, self._terms, self._batch = snap, matched.parsed.terms, batch_size
        self.articles = int(self._ordered.size)  # the rows it will give
        self.generation = snap.name
        self._rows = self._read()

    def __iter__(self) -> Iterator[Hit]:
        return self

    def __next__(self) -> Hit:
        return next(self._rows)

    def _read(self) -> Iterator[Hit]:
        no_reprints = np.empty(0, dtype=np.int64)
        try:
            with self._snap.own_reader() as reader:
                documents = storage.Documents(reader)
                for start in range(0, self._ordered.size, self._batch):
                    yield from [present.hit(documents, self._snap.table, docnum, no_reprints, self._terms)
                                for docnum in self._ordered[start:start + self._batch].tolist()]
        finally:
            self._release()

    def close(self) -> None:
        """Stop early: the generation is released (a no-op once the last row was read)."""
        rows = getattr(self, "_rows", None)
        if rows is not None:
            rows.close()  # runs _read's finally if it had started
        self._release()

    def _release(self) -> None:
        hold = getattr(self, "_hold", None)
        self._hold = None
        if hold is not None:
            hold.__exit__(None, None, None)

    def __del__(self) -> None:
        self.close()
