"""Every hit of a search as CSV or JSON Lines, streamed: shared by `finsearch export` and /export.*.

One row per post (reprints included: a reporter counting coverage wants every paper's post), so
the row count is the search's `articles`, not its `total` of stories. The snippet is plain text.
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterable, Iterator

from finsearch.search.types import Hit

EXPORT_COLUMNS = ("id", "date", "paper", "categories", "title", "url", "snippet")
EXPORT_FORMATS = ("csv", "jsonl")
CSV_BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only with it
CATEGORY_SEPARATOR = ","  # the categories of one post in one CSV cell
ROWS_PER_CHUNK = 100  # rows joined into one piece of the stream
_TAG = re.compile(r"<[^>]+>")


def plain_text(fragment: str) -> str:
    """An escaped HTML snippet (matches in <mark>) as plain text."""
    return html.unescape(_TAG.sub("", fragment))


def export_row(hit: Hit) -> dict:
    return {
        "id": hit.id,
        "date": hit.date.isoformat(),
        "paper": hit.paper,
        "categories": list(hit.categories),
        "title": hit.title,
        "url": hit.url,
        "snippet": plain_text(hit.snippet),
    }


def csv_chunks(hits: Iterable[Hit]) -> Iterator[str]:
    """The BOM and the header, then the rows, a few at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(CSV_BOM)
    writer.writerow(EXPORT_COLUMNS)
    for number, hit in enumerate(hits, start=1):
        row = export_row(hit)
        row["categories"] = CATEGORY_SEPARATOR.join(row["categories"])
        writer.writerow([row[column] for column in EXPORT_COLUMNS])
        if number % ROWS_PER_CHUNK == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def jsonl_chunks(hits: Iterable[Hit]) -> Iterator[str]:
    """One JSON object a line, a few lines at a time."""
    lines: list[str] = []
    for hit in hits:
        lines.append(json.dumps(export_row(hit), ensure_ascii=False) + "\n")
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
