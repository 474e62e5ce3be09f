"""Read a Jekyll `_posts` archive into Post objects, reporting every bad post.

Real archives are messy. Each problem is either recovered (the post is kept and
the report says how) or the post is skipped (the report says why); a bad post
never stops a run.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import frontmatter
import yaml

from finsearch.indexer.clean import clean_body

SITE_TZ = dt.timezone(dt.timedelta(hours=8))  # the site publishes Beijing time
POST_SUFFIXES = (".md", ".markdown", ".html")
MAX_BYTES = 5 * 1024 * 1024
TITLE_FROM_BODY_CHARS = 40

_FILE_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-")
_FILE_CODE = re.compile(r"^(?:\d{4}-\d{1,2}-\d{1,2})?-(\d+)$")  # YYYY-MM-DD-CODE or -CODE
_DATE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?")
_FRONT_MATTER = re.compile(r"^---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", re.S)
_FIELD_LINE = re.compile(r"^(\w+)\s*:\s*(.*?)\s*$")
_SENTENCE_END = re.compile(r"[。！？!?；;]")


@dataclass(frozen=True)
class Post:
    id: str
    path: str  # relative to the archive root, with /
    title: str
    published: dt.datetime  # timezone-aware
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    paper: str
    url: str
    paragraphs: tuple[str, ...]
    checksum: str  # of the file's bytes: the nightly reindex compares it


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str
    skipped: bool  # False: recovered, the post is indexed


class ProblemCounts:
    """For reports that carry a `problems` list."""

    problems: list[Problem]

    @property
    def skipped(self) -> int:
        return sum(1 for p in self.problems if p.skipped)

    @property
    def recovered(self) -> int:
        return sum(1 for p in self.problems if not p.skipped)


@dataclass
class ReadResult:
    post: Post | None
    problems: list[Problem] = field(default_factory=list)


def find_posts(root: Path) -> list[Path]:
    """Every post file below `root`, in path order."""
    return sorted((p for p in root.rglob("*") if p.suffix.lower() in POST_SUFFIXES and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts)),
                  key=lambda p: path_order(p.relative_to(root).as_posix()))


def path_order(path: str) -> tuple[str, ...]:
    """The sort key of the archive's path order, for a path relative to the root with `/`.

    Folder by folder, so `2026-07/a.md` comes before `2026-07-01-b.md` (a plain string
    comparison would put them the other way round, since "-" < "/").
    """
    return tuple(path.split("/"))


def claim_id(owners: dict[str, str], doc_id: str, path: str) -> Problem | None:
    """The one duplicate-id rule: the first path in path order keeps the id.

    `owners` maps each id to the path that holds it; `path` takes `doc_id` unless a path
    before it holds it. Returns None, or the duplicate to skip and report: its `path` is
    the one that lost the id (`path` itself, or the former holder, which the caller drops).
    """
    other = owners.get(doc_id)
    if other is None or other == path:
        owners[doc_id] = path
        return None
    if path_order(other) < path_order(path):
        return Problem(path, f"duplicate id {doc_id} (kept {other})", True)
    owners[doc_id] = path
    return Problem(other, f"duplicate id {doc_id} (kept {path})", True)


def checksum(raw: bytes) -> str:
    """The fingerprint of a post file's bytes: the nightly reindex compares it."""
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def read_post(path: Path, root: Path) -> ReadResult:
    """Read one post; never raises for what is in the file."""
    rel = path.relative_to(root).as_posix()
    result = ReadResult(None)

    def problem(reason: str, skipped: bool = False) -> None:
        result.problems.append(Problem(rel, reason, skipped))

    try:
        raw = path.read_bytes() if path.stat().st_size <= MAX_BYTES else None
    except OSError as error:
        problem(f"cannot read: {error.strerror or error}", skipped=True)
        return result
    if raw is None:
        problem(f"file too large (over {MAX_BYTES // 2**20} MiB)", skipped=True)
        return result
    if b"\x00" in raw:
        problem("binary file, not a post", skipped=True)
        return result
    text = _decode(raw, problem)
    meta, body_markup = _split_front_matter(text, problem)
    if meta is None:
        problem("no front matter; title taken from the body, date from the file name")
        meta = {}

    body = clean_body(body_markup)
    title = _clean_title(meta.get("title"))
    if not title and body.paragraphs:
        title = _first_sentence(body.paragraphs[0])
        if "title" in meta:
            problem("empty title; used the first sentence of the body")
    if not title:
        problem("empty post: no title and no body", skipped=True)
        return result
    if not body.paragraphs:
        problem("empty body; indexed by its title only")

    published = _date_of(meta.get("date"), path, problem)
    if published is None:
        problem("no date in the front matter nor in the file name", skipped=True)
        return result

    categories = _words(meta.get("categories") or meta.get("category"))
    tags = _words(meta.get("tags"))
    paper = body.paper or _paper_from_tags(tags) or (categories[0] if categories else "")
    result.post = Post(
        id=_post_id(path, rel),
        path=rel,
        title=title,
        published=published,
        categories=categories,
        tags=tags,
        paper=paper,
        url=body.url,
        paragraphs=body.paragraphs,
        checksum=checksum(raw),
    )
    return result


def read_archive(root: Path) -> Iterator[ReadResult]:
    """Read every post in path order, skipping the duplicates of an id."""
    owners: dict[str, str] = {}
    for path in find_posts(root):
        result = read_post(path, root)
        post = result.post
        # In path order, a post that comes second is the duplicate, never an earlier one.
        if post is not None and (duplicate := claim_id(owners, post.id, post.path)) is not None:
            result.problems.append(duplicate)
            result.post = None
        yield result


def _decode(raw: bytes, problem) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
        problem("not UTF-8; decoded as GB18030")
        return text
    except UnicodeDecodeError:
        problem("invalid UTF-8 bytes replaced")
        return raw.decode("utf-8", errors="replace")


def _split_front_matter(text: str, problem) -> tuple[dict | None, str]:
    text = text.lstrip("\ufeff \t\r\n")
    if not _FRONT_MATTER.match(text):
        return None, text
    try:
        post = frontmatter.loads(text)
        meta = post.metadata if isinstance(post.metadata, dict) else {}
        return meta, post.content
    except (yaml.YAMLError, ValueError, TypeError) as error:
        # The site writes title: "…" unescaped; read the block line by line.
        block = _FRONT_MATTER.match(text)
        meta = {}
        for line in block.group(1).splitlines():
            m = _FIELD_LINE.match(line)
            if m:
                meta[m.group(1)] = _unquote(m.group(2))
        problem(f"broken YAML front matter ({type(error).__name__}); read line by line")
        return meta, text[block.end():]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _clean_title(value) -> str:
    if value is None:
        return ""
    return re.sub(r"\s+", " ", html.unescape(str(value))).strip()


def _first_sentence(paragraph: str) -> str:
    sentence = _SENTENCE_END.split(paragraph, maxsplit=1)[0]
    return sentence[:TITLE_FROM_BODY_CHARS].strip()


def _date_of(value, path: Path, problem) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(SITE_TZ) if value.tzinfo else value.replace(tzinfo=SITE_TZ)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=SITE_TZ)
    parsed = _parse_date(str(value)) if value is not None else None
    if parsed:
        return parsed
    from_name = _date_from_file_name(path)
    if from_name:
        problem(f"{'bad' if value not in (None, '') else 'no'} date in the front matter"
                f"{f' ({str(value)[:40]!r})' if value not in (None, '') else ''}; "
                f"used {from_name:%Y-%m-%d} from the file name")
    return from_name


def _parse_date(text: str) -> dt.datetime | None:
    m = _DATE.search(text)
    if not m:
        return None
    year, month, day, hour, minute, second, zone = m.groups()
    try:
        tz = SITE_TZ
        if zone == "Z":
            tz = dt.timezone.utc
        elif zone:
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        value = dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                            int(second or 0), tzinfo=tz)
    except ValueError:
        return None
    return value.astimezone(SITE_TZ)


def _date_from_file_name(path: Path) -> dt.datetime | None:
    """The date in `YYYY-MM-DD-…`, else the YYYYMMDD that starts the site's numeric codes."""
    m = _FILE_DATE.match(path.name)
    candidates = [m.groups()] if m else []
    code = _file_code(path)
    if len(code) >= 8:
        candidates.append((code[:4], code[4:6], code[6:8]))
    for year, month, day in candidates:
        try:
            value = dt.datetime(int(year), int(month), int(day), tzinfo=SITE_TZ)
        except ValueError:
            continue
        if 1990 <= value.year <= 2100:
            return value
    return None


def _file_code(path: Path) -> str:
    """The numeric code of `YYYY-MM-DD-CODE.md` or `-CODE.md`, else ""."""
    m = _FILE_CODE.match(path.stem)
    return m.group(1) if m else ""


def _post_id(path: Path, rel: str) -> str:
    return _file_code(path) or rel


def _words(value) -> tuple[str, ...]:
    """Jekyll reads a string of categories or tags as space-separated words."""
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else str(value).split()
    return tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))


def _paper_from_tags(tags: tuple[str, ...]) -> str:
    for tag in tags:
        if tag.endswith("新闻") and len(tag) > 2:
            return tag[:-2]
    return ""
