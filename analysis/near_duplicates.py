"""MinHash signatures of a post's text, computed at index time (in the worker that analyses it).

Two posts are near-duplicates when they share most of their character shingles: the same flash
from 财联社, 东方财富 and 同花顺 in different wording around the same facts. A signature holds, for
each of SIGNATURE_HASHES hash functions, the smallest hash of the post's shingles; the share of
equal entries in two signatures estimates the Jaccard similarity of their shingle sets. The
signature also holds the number of shingles, so the clustering (analysis/stories.py) can estimate
how much of the shorter post the longer one contains, and a 64-bit set of the numbers the post
states, so that two flashes of one template with different figures (涨幅扩大至5% / 至10%) are
told apart.
"""
from __future__ import annotations

import hashlib
import re
import zlib

import numpy as np

from finsearch.analysis import fold, native

SHINGLE_CHARS = 4  # characters per shingle, over the text with punctuation and spaces removed
SIGNATURE_HASHES = 128
# The top 8 bits of each minimum (b-bit MinHash): two posts' minima then agree by accident once
# in 256, which analysis/stories.py takes out of its estimate; the sampling error of 128 hashes
# (±0.04 at a Jaccard similarity of 0.6) stays the larger. 16 bits took twice the bytes.
MINIMUM_BITS = 8
SIGNATURE_BYTES = 2 + 8 + SIGNATURE_HASHES
_MAX_SIZE = 0xFFFF

# Only the characters a reader compares: CJK, Latin letters, digits, and % and . of numbers.
_KEPT = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff0-9a-z%.]+")
# The wire's dateline (财联社8月5日电，, or 东方财富's bare 8月5日，) says who and when, not what:
# it would make every flash of a day look a little alike, and one paper's copy unlike another's.
# 财联社's short flashes have a title cut from the body, dateline and all.
DATELINE = re.compile(r"^(?:[\u4e00-\u9fff]{2,8})?\d{1,2}月\d{1,2}日(?:电|讯|消息)?[，,：:\s]+")
BRACKETED_TITLE = re.compile(r"^【[^】]*】")
# What one paper adds and another leaves out without telling other news: a name's Latin
# spelling in brackets (（Derek Halpenny）) and a source named at the end (（财联社）).
_ASIDE = re.compile(r"[（(][a-z][a-z .·'’-]*[)）]|[（(][\u4e00-\u9fff]{2,6}[)）]$")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)*%?")
# A date says when: two papers' copies of one flash often differ in it (one says 6月1日, one not), a
# stated figure (a year is one) they do not.
_DATE = re.compile(r"[0-9]{1,2}(?:月|日)")

# Multiply-shift hashing (a*x + b mod 2^64, top bits): one fixed family for every process.
_rng = np.random.default_rng(20260805)
_MULTIPLIERS = _rng.integers(1, 2**63, SIGNATURE_HASHES, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_OFFSETS = _rng.integers(0, 2**63, SIGNATURE_HASHES, dtype=np.uint64)
_BIT_MIXER = np.uint64(0x9E3779B97F4A7C15)  # odd: 2**64 / the golden ratio
_FAMILY_BYTES = (_MULTIPLIERS.tobytes(), _OFFSETS.tobytes())  # the family as the compiled loop takes it


def fingerprint() -> str:
    """What the stored signatures depend on: an index built under another must be rebuilt."""
    settings = (SHINGLE_CHARS, SIGNATURE_HASHES, MINIMUM_BITS, int(_BIT_MIXER), _MULTIPLIERS.tobytes(),
                _OFFSETS.tobytes(), _KEPT.pattern, DATELINE.pattern, BRACKETED_TITLE.pattern, _ASIDE.pattern,
                _NUMBER.pattern, _DATE.pattern)
    return hashlib.blake2b(repr(settings).encode(), digest_size=16).hexdigest()


def comparable_text(title: str, body: str) -> str:
    """The folded text shingles are taken from: title and body, datelines, asides and punctuation out."""
    body = DATELINE.sub("", BRACKETED_TITLE.sub("", fold(body.strip())))
    return comparable(_ASIDE.sub("", DATELINE.sub("", fold(title.strip())) + "\n" + body))


def comparable(folded: str) -> str:
    """Only the characters a reader compares, of folded text."""
    return "".join(_KEPT.findall(folded))


def shingles(title: str, body: str) -> set[str]:
    return _shingles_of(comparable_text(title, body))


def _shingles_of(text: str) -> set[str]:
    if len(text) <= SHINGLE_CHARS:
        return {text} if text else set()
    return {text[i:i + SHINGLE_CHARS] for i in range(len(text) - SHINGLE_CHARS + 1)}


def signature(title: str, body: str) -> bytes:
    """The post's shingle count (uint16), number set (uint64: one bit per number, by its hash)
    and MinHash (SIGNATURE_HASHES uint8: MINIMUM_BITS of each minimum), little-endian."""
    text = comparable_text(title, body)
    compiled = native.compiled()  # a build's, checked against _shingle_minima
    counted = None if compiled is None else compiled.shingle_minima(
        text, SHINGLE_CHARS, *_FAMILY_BYTES, int(_BIT_MIXER), MINIMUM_BITS)
    distinct, minima = counted if counted is not None else _shingle_minima(text)
    if not distinct:
        return b"\x00" * SIGNATURE_BYTES  # nothing to compare: a count of 0 is never clustered
    size = np.array([min(distinct, _MAX_SIZE)], dtype="<u2")
    numbers = 0
    for number in stated_figures(text):
        numbers |= 1 << (zlib.crc32(number.encode("ascii")) % 64)
    return size.tobytes() + numbers.to_bytes(8, "little") + minima


def _shingle_minima(text: str) -> tuple[int, bytes]:
    """How many distinct shingles `text` has, and their MinHash minima (MINIMUM_BITS of each)."""
    found = _shingles_of(text)
    if not found:
        return 0, b""
    hashes = np.fromiter(map(zlib.crc32, map(str.encode, found)), dtype=np.uint64, count=len(found))
    with np.errstate(over="ignore"):  # wrapping is the hash
        mixed = np.multiply.outer(hashes, _MULTIPLIERS)  # [shingle, hash function]
        mixed += _OFFSETS  # in place: one array a post, not two
        # A minimum's own top bits are mostly 0 (it is the least of many): its bits are
        # taken from the minimum hashed once more.
        minima = ((mixed.min(axis=0) * _BIT_MIXER) >> np.uint64(64 - MINIMUM_BITS)).astype(np.uint8)
    return len(found), minima.tobytes()


def stated_figures(folded: str) -> set[str]:
    """The numbers a folded text states (a figure, a year), its dates aside."""
    return set(_NUMBER.findall(_DATE.sub("", folded)))


def decode(column: bytes, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`count` signatures laid end to end -> (shingle counts int64, number sets uint64,
    minima uint8 [count, hashes])."""
    table = np.frombuffer(column, dtype=np.uint8, count=count * SIGNATURE_BYTES).reshape(count, SIGNATURE_BYTES)
    sizes = np.ascontiguousarray(table[:, :2]).view("<u2")[:, 0].astype(np.int64)
    numbers = np.ascontiguousarray(table[:, 2:10]).view("<u8")[:, 0].astype(np.uint64)
    return sizes, numbers, np.ascontiguousarray(table[:, 10:])


STORY_KEY_BYTES = 12


def story_key(title: str, body: str) -> bytes:
    """Equal for posts with the same title and body (white space aside): one story, whatever their dates."""
    # Folded first: fold keeps every character white space or not (a test checks each), and the
    # body's fold is the one its fields and signature reuse (fold's cache).
    text = " ".join(fold(title).split()) + "\n" + " ".join(fold(body).split())
    return hashlib.blake2b(text.encode("utf-8"), digest_size=STORY_KEY_BYTES).digest()


def title_key(text: str) -> str:
    """What a title (or a query typed as one) is compared by: equal for 「SpaceX 日内涨幅扩大至10%」
    and spacex日内涨幅扩大至10%."""
    return hashlib.blake2b(comparable(fold(text)).encode("utf-8"), digest_size=8).hexdigest()
