"""Read a Jekyll `_posts` archive into Post objects, reporting every bad post.

Real archives are messy. Each problem is either recovered (the post is kept and
the report says how) or the post is skipped (the report says why); a bad post
never stops a run.
"""
from __future__ import annotations

import datetime as dt
import errno
import hashlib
import html
import os
import re
import stat
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import frontmatter
import yaml

from finsearch.indexer.clean import clean_body
from finsearch.storage import CHECKSUM_BYTES, SITE_TZ

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # a PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

POST_SUFFIXES = (".md", ".markdown", ".html")
TITLE_FROM_BODY_CHARS = 40

# What one post may cost. The body is bounded by the file's size (its clean text
# is never longer than the file); the article page shows a bounded part of it
# (search.engine).
MAX_BYTES = 5 * 1024 * 1024
MAX_TITLE_CHARS = 500  # longer is cut
MAX_LABELS = 20  # categories, and tags, each: the first are kept
MAX_LABEL_CHARS = 100  # a longer category or tag is dropped
MAX_YAML_VALUES = 1000  # values a front matter may hold once its YAML aliases are expanded
YEARS = range(1970, 2101)  # a date outside is a placeholder or a typo (0001-01-01), not a post's

# Building or converting a date can raise any of these (month 13, year 0, an
# offset of a day, a time beyond year 9999 once in Beijing time).
_DATE_ERRORS = (ValueError, OverflowError, TypeError)

_FILE_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-")
_FILE_CODE = re.compile(r"^(?:\d{4}-\d{1,2}-\d{1,2})?-(\d+)$")  # YYYY-MM-DD-CODE or -CODE
_DATE = re.compile(
    r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[ Tt](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    r"\s*(?:(Z)|([+-])(\d{1,2}):?(\d{2})?)?")
_YAML_ANCHOR = re.compile(r"[&*]([^\s\[\]{},]+)")  # an anchor (&name) or an alias (*name)
_FRONT_MATTER = re.compile(r"^---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", re.DOTALL)
_FIELD_LINE = re.compile(r"^(\w+)\s*:\s*(.*?)\s*$")
_SENTENCE_END = re.compile(r"[。！？!?；;]")


class FileStat(NamedTuple):
    """What the nightly reindex compares before it reads a file: equal means unchanged."""

    size: int
    mtime_ns: int


# A file modified this close to the moment it was read may be modified again within the
# same tick of the file system's clock (or a file server's clock may be off by about this
# much): its stat is not recorded, and every run checksums it (ingest.Post.stat is None).
RACY_STAT_NS = 2 * 10**9


@dataclass(frozen=True)
class Post:
    id: str
    path: str  # relative to the archive root, with /
    title: str
    published: dt.datetime  # in the site's time zone, its year in YEARS
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    paper: str
    url: str
    paragraphs: tuple[str, ...]
    checksum: bytes  # of the file's bytes: the nightly reindex compares it
    stat: FileStat | None  # of the file whose bytes these are, when they were read (None: not to be trusted)


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


def find_posts(root: Path, problems: list[Problem] | None = None) -> list[str]:
    """Every post file below `root`: regular files, not hidden, in path order, as path
    strings (a million pathlib objects would hold half a gigabyte in a build's parent,
    and again in each worker that touches them).

    Links are resolved but never followed, so every post is found once, under its
    own path, and nothing outside the archive is read. What is passed over is
    added to `problems` (when given): a link pointing outside the archive, a
    dangling link, a loop, a FIFO or device named like a post.
    """
    return [entry.path for _, entry in _post_entries(root, problems)]


@dataclass
class ArchiveFiles:
    """The post files of an archive in path order, with the size and mtime each has now."""

    paths: list[str]  # relative to the archive root, with /
    sizes: array  # of int64
    mtimes_ns: array  # of int64


def scan_posts(root: Path, problems: list[Problem] | None = None) -> ArchiveFiles:
    """find_posts, with each file's size and mtime, without opening any file (one lstat each)."""
    found = ArchiveFiles([], array("q"), array("q"))
    for rel, entry in _post_entries(root, problems):
        info = entry.stat(follow_symlinks=False)
        found.paths.append(rel)
        found.sizes.append(info.st_size)
        found.mtimes_ns.append(info.st_mtime_ns)
    return found


def _post_entries(root: Path, problems: list[Problem] | None) -> Iterator[tuple[str, os.DirEntry]]:
    """(path relative to root, directory entry) of every post file, in path order; what was
    passed over goes to `problems` once all are given.

    Each folder's entries are visited in name order, folders where their names
    fall: that is path_order, so nothing is sorted as a whole (pathlib and a sort
    key per file cost more than the walk itself on a million posts).
    """
    real_root = root.resolve()
    passed_over: list[Problem] = []
    stack = [_entries_by_name(root, "", passed_over)]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        rel, entry = item
        if entry.name.startswith("."):
            continue  # hidden: drafts, .git
        named_like_a_post = entry.name.lower().endswith(POST_SUFFIXES)
        if not _is_utf8(entry.name):  # its path could be neither indexed nor reported as it is
            if named_like_a_post or entry.is_dir(follow_symlinks=False):
                passed_over.append(Problem(_shown(rel), "name is not valid UTF-8; not read (rename it to index it)",
                                           True))
            continue
        if entry.is_symlink():
            link = _link_problem(Path(entry.path), root, real_root, named_like_a_post)
            if link is not None:
                passed_over.append(link)
        elif entry.is_dir(follow_symlinks=False):
            stack.append(_entries_by_name(Path(entry.path), rel + "/", passed_over))
        elif named_like_a_post and entry.is_file(follow_symlinks=False):
            yield rel, entry
        elif named_like_a_post:
            kind = _file_kind(entry.stat(follow_symlinks=False).st_mode)
            passed_over.append(Problem(rel, f"not a regular file ({kind}); not opened", True))
    if problems is not None:
        problems.extend(sorted(passed_over, key=lambda problem: problem.path))


def _is_utf8(name: str) -> bool:
    """Whether a file name (as os.scandir decodes it: undecodable bytes as surrogates) is UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(rel: str) -> str:
    """A path with undecodable bytes, printable: each such byte as U+FFFD."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _entries_by_name(folder: Path, prefix: str, passed_over: list[Problem]) -> Iterator[tuple[str, os.DirEntry]]:
    """(prefix + name, entry) of a folder's entries in name order; nothing if it cannot be listed."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        passed_over.append(Problem(prefix.rstrip("/") or ".", f"cannot list folder: {error.strerror or error}", True))
        return iter(())
    return ((prefix + entry.name, entry) for entry in entries)


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


def _link_problem(link: Path, root: Path, real_root: Path, named_like_a_post: bool) -> Problem | None:
    """What to report about a link found in the archive (None: nothing to say)."""
    rel = _relative(link, root)
    try:
        target = link.resolve(strict=True)
    except RuntimeError:  # Python before 3.13 reports a loop so
        return Problem(rel, "link loop", True)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return Problem(rel, "link loop", True)
        if isinstance(error, FileNotFoundError):
            return Problem(rel, "dangling link (its target does not exist)", True)
        return Problem(rel, f"link cannot be followed: {error.strerror or error}", True)
    if not target.is_relative_to(real_root):
        if named_like_a_post or target.is_dir():
            return Problem(rel, "link points outside the archive; not read", True)
        return None
    if target.is_dir():
        if link.parent.resolve().is_relative_to(target):
            return Problem(rel, "link loop (to a folder that holds the link)", True)
        return Problem(rel, "link to a folder of the archive: not followed, its posts are read "
                            "under their own paths", False)
    if not named_like_a_post:
        return None
    target_rel = target.relative_to(real_root)
    if target.suffix.lower() in POST_SUFFIXES and target.is_file() \
            and not any(part.startswith(".") for part in target_rel.parts):
        return Problem(rel, f"link to {target_rel.as_posix()}: indexed once, under that path", False)
    return Problem(rel, f"link to {target_rel.as_posix()}, which is not a post of the archive; not read", True)


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a link"
    return "of another kind"


class _Refused(Exception):
    """A file that is not read as a post; the message says why."""


def _read_file(path: Path, root: Path) -> tuple[bytes, os.stat_result]:
    """The bytes of `path` if it is a regular file of the archive, not a link, of at most MAX_BYTES,
    and the stat of the open file taken before they were read (a write after it changes the mtime).

    find_posts lists only such files; this checks again when the file is opened,
    so a file swapped for a link or a FIFO in between is refused too (and FIFOs
    and devices are never opened). Raises _Refused or OSError.
    """
    if not path.parent.resolve().is_relative_to(root.resolve()):
        raise _Refused("link points outside the archive; not read")
    mode = os.lstat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _Refused(f"not a regular file ({_file_kind(mode)}); not opened")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.ELOOP:  # it became a link since the lstat
            raise _Refused("not a regular file (a link); not opened") from None
        raise
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _Refused(f"not a regular file ({_file_kind(info.st_mode)}); not read")
        # As much as the stat says (asking for MAX_BYTES would allocate that much a post), and
        # on up to the limit if the file grew since.
        raw = file.read(info.st_size + 1) if info.st_size <= MAX_BYTES else b""
        if len(raw) > info.st_size:
            raw += file.read(MAX_BYTES + 1 - len(raw))
    if info.st_size > MAX_BYTES or len(raw) > MAX_BYTES:
        raise _Refused(f"file too large (over {MAX_BYTES // 2**20} MiB)")
    return raw, info


def checksum(raw: bytes) -> bytes:
    """The fingerprint of a post file's bytes: the nightly reindex compares it."""
    return hashlib.blake2b(raw, digest_size=CHECKSUM_BYTES).digest()


def file_checksum(path: Path, root: Path) -> bytes:
    """The checksum of the bytes read_post would read; empty if it would read none (it says why)."""
    try:
        return checksum(_read_file(path, root)[0])
    except (OSError, _Refused):
        return b""


def read_post(path: str | Path, root: Path) -> ReadResult:
    """Read one post; never raises for what is in the file."""
    path = Path(path)
    rel = path.relative_to(root).as_posix()
    result = ReadResult(None)

    def problem(reason: str, skipped: bool = False) -> None:
        result.problems.append(Problem(rel, reason, skipped))

    try:
        raw, info = _read_file(path, root)
    except _Refused as refused:
        problem(str(refused), skipped=True)
        return result
    except OSError as error:
        problem(f"cannot read: {error.strerror or error}", skipped=True)
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
    title = _title_of(meta.get("title"), problem)
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
        return result

    categories = _labels("categories", meta.get("categories") or meta.get("category"), problem)
    tags = _labels("tags", meta.get("tags"), problem)
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
        stat=_trusted_stat(info),
    )
    return result


def read_archive(root: Path) -> Iterator[ReadResult]:
    """Read every post in path order, skipping the duplicates of an id; what find_posts passed
    over comes first, as results without a post."""
    passed_over: list[Problem] = []
    paths = find_posts(root, passed_over)
    for problem in passed_over:
        yield ReadResult(None, [problem])
    owners: dict[str, str] = {}
    for path in paths:
        result = read_post(path, root)
        post = result.post
        # In path order, a post that comes second is the duplicate, never an earlier one.
        if post is not None and (duplicate := claim_id(owners, post.id, post.path)) is not None:
            result.problems.append(duplicate)
            result.post = None
        yield result


def _trusted_stat(info: os.stat_result) -> FileStat | None:
    if abs(time.time_ns() - info.st_mtime_ns) < RACY_STAT_NS:
        return None
    return FileStat(info.st_size, info.st_mtime_ns)


_Report = Callable[..., None]  # problem(reason, skipped=False)


def _decode(raw: bytes, problem: _Report) -> str:
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


class _FrontMatterLoader(_SafeLoader):
    """YAML's safe loader, except that numbers, booleans and timestamps stay the text they are
    written as: a title `2026` or `yes` is that text, and dates are read by _parse_date alone."""


def _scalar_text(loader: _FrontMatterLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


for _tag in ("bool", "int", "float", "timestamp"):
    _FrontMatterLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _scalar_text)


class _FrontMatterYAML(frontmatter.YAMLHandler):
    def load(self, fm: str, **kwargs: object) -> Any:
        return yaml.load(fm, Loader=_FrontMatterLoader)


_YAML_HANDLER = _FrontMatterYAML()
_END = object()


def _split_front_matter(text: str, problem: _Report) -> tuple[dict | None, str]:
    text = text.lstrip("\ufeff \t\r\n")
    block = _FRONT_MATTER.match(text)
    if not block:
        return None, text
    try:
        post = frontmatter.loads(text, handler=_YAML_HANDLER)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as error:
        # The site writes title: "…" unescaped; read the block line by line.
        problem(f"broken YAML front matter ({type(error).__name__}); read line by line")
        return _read_lines(block.group(1)), text[block.end():]
    values, aliased = _expanded_size(post.metadata, MAX_YAML_VALUES)
    if values > MAX_YAML_VALUES:
        # An alias is a reference: nine aliases of nine aliases of … multiply on every read.
        what = "YAML aliases beyond" if aliased else "front matter of over"
        problem(f"{what} {MAX_YAML_VALUES} values; read line by line")
        return _read_lines(block.group(1)), text[block.end():]
    return post.metadata, post.content


def _expanded_size(value: object, limit: int) -> tuple[int, bool]:
    """How many values `value` holds with its aliases expanded, counted up to limit + 1 (a
    recursive alias never ends), and whether a list or mapping was reached twice (an alias).

    Steps through iterators, so it costs at most limit + 1 steps whatever the widths."""
    seen: set[int] = set()
    aliased = False
    count = 0
    stack = [iter((value,))]
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
            continue
        count += 1
        if count > limit:
            break
        if isinstance(item, (list, tuple, set, dict)):
            aliased = aliased or id(item) in seen
            seen.add(id(item))
            stack.append(iter(item.values() if isinstance(item, dict) else item))
    return count, aliased


def _read_lines(block: str) -> dict[str, str]:
    """`key: value` lines as text; values that use the block's YAML anchors are left out."""
    anchors = {m.group(1) for m in _YAML_ANCHOR.finditer(block) if m.group(0).startswith("&")}
    meta = {}
    for line in block.splitlines():
        m = _FIELD_LINE.match(line)
        if m and not any(name in anchors for name in _YAML_ANCHOR.findall(m.group(2))):
            meta[m.group(1)] = _unquote(m.group(2))
    return meta


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _kind(value: object) -> str:
    """What a YAML value that is not text is, for a report."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    if isinstance(value, bytes):
        return "binary data"
    return type(value).__name__


def _title_of(value: object, problem: _Report) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        problem(f"title is {_kind(value)}, not text; dropped")
        return ""
    title = re.sub(r"\s+", " ", html.unescape(value)).strip()
    if len(title) > MAX_TITLE_CHARS:
        problem(f"title of {len(title)} characters cut to {MAX_TITLE_CHARS}")
        title = title[:MAX_TITLE_CHARS].rstrip()
    return title


def _first_sentence(paragraph: str) -> str:
    sentence = _SENTENCE_END.split(paragraph, maxsplit=1)[0]
    return sentence[:TITLE_FROM_BODY_CHARS].strip()


def _date_of(value: object, path: Path, problem: _Report) -> dt.datetime | None:
    """The front matter's date, else the file name's (reported), else None (reported, skipped)."""
    parsed = _parse_date(value) if isinstance(value, str) else None
    if parsed:
        return parsed
    if value in (None, ""):
        what = "no date in the front matter"
    elif isinstance(value, str):
        what = f"bad date in the front matter ({value[:40]!r})"
    else:
        what = f"bad date in the front matter ({_kind(value)})"
    from_name = _date_from_file_name(path)
    if from_name:
        problem(f"{what}; used {from_name:%Y-%m-%d} from the file name")
    else:
        problem(f"{what} nor in the file name" if value in (None, "") else f"{what}, no date in the file name",
                skipped=True)
    return from_name


def _parse_date(text: str) -> dt.datetime | None:
    """The first date in `text`, in the site's time zone; None if there is none or it is not a post's."""
    m = _DATE.search(text)
    if not m:
        return None
    year, month, day, hour, minute, second, utc, sign, zone_hours, zone_minutes = m.groups()
    try:
        tz = SITE_TZ
        if utc:
            tz = dt.UTC
        elif sign:
            offset = dt.timedelta(hours=int(zone_hours), minutes=int(zone_minutes or 0))
            tz = dt.timezone(offset if sign == "+" else -offset)
        value = dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                            int(second or 0), tzinfo=tz).astimezone(SITE_TZ)
    except _DATE_ERRORS:
        return None
    return value if value.year in YEARS else None


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
        except _DATE_ERRORS:
            continue
        if value.year in YEARS:
            return value
    return None


def _file_code(path: Path) -> str:
    """The numeric code of `YYYY-MM-DD-CODE.md` or `-CODE.md`, else ""."""
    m = _FILE_CODE.match(path.stem)
    return m.group(1) if m else ""


def _post_id(path: Path, rel: str) -> str:
    return _file_code(path) or rel


def _labels(name: str, value: object, problem: _Report) -> tuple[str, ...]:
    """Categories or tags: Jekyll reads a string as space-separated words, a list item by item.

    Items that are not text (a list in the list, a mapping) are dropped, and so are
    over-long ones; at most MAX_LABELS are kept. Each of these is reported.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[object] = list(value.split())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        problem(f"{name} is {_kind(value)}, not text; dropped")
        return ()
    labels: dict[str, None] = {}
    not_text = too_long = 0
    for item in items:
        if item is None:
            continue
        if not isinstance(item, str):
            not_text += 1
            continue
        label = item.strip()
        if len(label) > MAX_LABEL_CHARS:
            too_long += 1
        elif label:
            labels[label] = None
    if not_text:
        problem(f"{name}: {not_text} value(s) that are not text dropped")
    if too_long:
        problem(f"{name}: {too_long} value(s) over {MAX_LABEL_CHARS} characters dropped")
    if len(labels) > MAX_LABELS:
        problem(f"{len(labels)} {name}; kept the first {MAX_LABELS}")
    return tuple(labels)[:MAX_LABELS]


def _paper_from_tags(tags: tuple[str, ...]) -> str:
    for tag in tags:
        if tag.endswith("新闻") and len(tag) > 2:
            return tag[:-2]
    return ""
