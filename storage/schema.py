"""The Whoosh schema: the fields of an index document, and how dates and file stats are stored.

Two fields per text: `title`/`body` hold jieba words (they rank), and
`title_gram`/`body_gram` hold bigrams of adjacent characters with positions
(they match a literal string as a phrase of its bigrams, whatever jieba does
with the context). Everything the result list and the article page show is
stored, so nothing is read from the archive at query time.
"""
from __future__ import annotations

import datetime as dt
import struct

import numpy as np
from whoosh.columns import FixedBytesColumn
from whoosh.fields import COLUMN, DATETIME, ID, KEYWORD, STORED, TEXT, FieldType, Schema

from finsearch.analysis import gram_analyzer, word_analyzer
from finsearch.analysis.near_duplicates import SIGNATURE_BYTES, STORY_KEY_BYTES

SITE_TZ = dt.timezone(dt.timedelta(hours=8))  # the site publishes Beijing time; dates are stored in it

TITLE_BOOST = 3.0

# Field names other packages may use.
ID_FIELD = "id"
TITLE = "title"
BODY = "body"
TITLE_GRAM = "title_gram"
BODY_GRAM = "body_gram"
DATE = "date"
CATEGORY = "category"
PAPER = "paper"
TAGS = "tags"
URL = "url"
PATH = "path"
CHECKSUM = "checksum"
STORY = "story"
SIGNATURE = "signature"
TITLE_KEY = "title_key"
FILE_STAT = "file_stat"
# Fields search never reads: an index without them is still served (storage.generations.manifest_problem).
REINDEX_ONLY_FIELDS = (FILE_STAT,)

CHECKSUM_BYTES = 16  # a post file's BLAKE2b digest: the nightly reindex compares it
# A post file's size and mtime (ns) when it was read, as two little-endian int64; (-1, -1)
# when not to be trusted (ingest.RACY_STAT_NS), which no file's stat equals.
FILE_STAT_FORMAT = struct.Struct("<qq")
UNKNOWN_FILE_STAT = FILE_STAT_FORMAT.pack(-1, -1)


def make_schema() -> Schema:
    words = word_analyzer()
    grams = gram_analyzer()
    return Schema(**{
        # id, path and checksum are columns too: the nightly reindex reads them
        # for every document without loading stored bodies (and deletes a post's
        # documents by its path's column: storage.delete_paths). id is also a term:
        # an article is found by it.
        ID_FIELD: ID(stored=True, unique=True, sortable=True),
        TITLE: TEXT(analyzer=words, stored=True, phrase=False, field_boost=TITLE_BOOST),
        BODY: TEXT(analyzer=words, stored=True, phrase=False),
        TITLE_GRAM: TEXT(analyzer=grams, phrase=True, field_boost=TITLE_BOOST),
        BODY_GRAM: TEXT(analyzer=grams, phrase=True),
        DATE: _column_only(DATETIME(stored=True, sortable=True)),
        CATEGORY: KEYWORD(stored=True, commas=True, scorable=False),
        PAPER: ID(stored=True),
        TAGS: KEYWORD(stored=True, commas=True, scorable=False),
        URL: STORED(),
        PATH: _column_only(ID(stored=True, sortable=True)),
        # Digests as raw bytes in fixed-width columns, half the bytes of their hex form.
        CHECKSUM: COLUMN(FixedBytesColumn(CHECKSUM_BYTES)),
        # Posts with the same title and body are one story (a column, for grouping).
        STORY: COLUMN(FixedBytesColumn(STORY_KEY_BYTES)),
        # Near-duplicate stories are found from these once per generation
        # (analysis/stories.py); an index written before they existed has neither.
        SIGNATURE: COLUMN(FixedBytesColumn(SIGNATURE_BYTES)),
        # The title as a reader compares it (folded, punctuation out): a query equal to a
        # post's title ranks that post first.
        TITLE_KEY: _column_only(ID(sortable=True)),
        # The nightly reindex reads a file only when its stat differs from this (indexer/update.py).
        FILE_STAT: COLUMN(FixedBytesColumn(FILE_STAT_FORMAT.size)),
    })


def _column_only(field: FieldType) -> FieldType:
    """A field read by docnum from its column (filters, grouping, the reindex) and never
    searched: without terms it costs no term-table entries (about 100 bytes per post each)."""
    field.indexed = False
    return field


def file_stats(column: bytes) -> np.ndarray:
    """A FILE_STAT column's values, one row of (size, mtime_ns) per document."""
    return np.frombuffer(column, dtype="<i8").reshape(-1, 2)


def local_naive(value: dt.datetime) -> dt.datetime:
    """Whoosh stores naive datetimes: we store the site's local time (+08:00).

    A post's date is already in the site's zone (ingest makes it so, within
    ingest.YEARS), so it needs no arithmetic that could overflow near year 1 or 9999.
    """
    if value.utcoffset() == SITE_TZ.utcoffset(None):
        return value.replace(tzinfo=None)
    return value.astimezone(SITE_TZ).replace(tzinfo=None)


def from_local_naive(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=SITE_TZ)
