"""The jieba segmenter, with the shipped finance dictionary, loaded once per process.

jieba keeps a cache of its prefix dictionary; by default it writes it to a shared
file in the system temp dir. We keep it in our own cache dir instead
(FINSEARCH_CACHE, else ~/.cache/finsearch) so that users and CI runs don't fight
over one file.

jieba 0.42.1 is the reference. A full build may segment with a faster implementation of
the same algorithm and dictionary (jieba-next, compiled), behind a fence like whoosh_format's:
- a version gate: only the jieba-next versions in VERIFIED_FAST_VERSIONS, and not with
  FINSEARCH_FAST_JIEBA=0;
- a check when a build starts (`segmenting_for_build`, on a sample of the posts it indexes, and
  by tests/test_segmenter.py on every post of data/posts): everything the build takes from
  jieba must be the same, token for token: the words of each text with their offsets (what the
  word fields index; a run of punctuation may be cut otherwise, and the analysis drops it) and
  the stock names it learns (analysis.aliases, which cuts names into words);
- the fallback: jieba itself, with one warning. Searches always segment with jieba.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import logging
import marshal
import os
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import jieba

USER_DICT = resources.files("finsearch.analysis") / "finance_dict.txt"

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    base = os.environ.get("FINSEARCH_CACHE") or Path.home() / ".cache" / "finsearch"
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_cache_file(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """A file of the cache folder, whole or not at all (another process may read it meanwhile); one
    that cannot be written costs only the next process the work of making it again."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        with open(partial, "wb") as out:
            write(out)
        os.replace(partial, path)
    except OSError as error:
        log.warning("cache file %s not written: %s", path, error)
        partial.unlink(missing_ok=True)


def segmenter() -> Any:
    """This process's segmenter: jieba's, or the faster one a build has checked (`segmenting_for_build`)."""
    return _fast if _fast is not None else reference_segmenter()


@functools.cache
def reference_segmenter() -> jieba.Tokenizer:
    # Imported here: opening an index or answering `finsearch stats` segments nothing.
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.tmp_dir = str(cache_dir())
    _load_prefix_dictionary(tokenizer)
    tokenizer.initialize()  # from its cache file or its dictionary, unless loaded above
    with resources.as_file(USER_DICT) as path:
        tokenizer.load_userdict(str(path))
    return tokenizer


# jieba reads its cached prefix dictionary with marshal.load on the open file, which reads each of
# its half a million strings through a call on the file object: three to four times as long as
# marshal.loads on the file's bytes, and a server's start, a CLI search and every test process wait
# for it. So the same file is read here the faster way, fenced: only for the jieba versions that
# keep their cache as VERIFIED_JIEBA_CACHE says (the default dictionary's prefix dictionary and
# total, marshalled, in tmp_dir/JIEBA_CACHE_FILE), the loaded object checked for that shape, and
# otherwise jieba's own `initialize` (with one warning if the file was there but did not read).
VERIFIED_JIEBA_CACHE = ("0.42.1",)
JIEBA_CACHE_FILE = "jieba.cache"
_cache_warning_given = False


def _load_prefix_dictionary(tokenizer: Any) -> None:
    """Load `tokenizer`'s prefix dictionary from jieba's own cache file, as its `initialize` would."""
    global _cache_warning_given
    import jieba
    if (jieba.__version__ not in VERIFIED_JIEBA_CACHE or tokenizer.dictionary is not jieba.DEFAULT_DICT
            or tokenizer.cache_file):
        return
    path = Path(tokenizer.tmp_dir) / JIEBA_CACHE_FILE
    try:
        freq, total = marshal.loads(path.read_bytes())
        if not (isinstance(freq, dict) and isinstance(total, int) and total > 0):
            raise ValueError("not a prefix dictionary and a total")
    except FileNotFoundError:
        return  # jieba makes it
    except (OSError, ValueError, TypeError, EOFError) as error:
        if not _cache_warning_given:
            log.warning("jieba's cache %s does not read as expected (%s): jieba loads it itself", path, error)
            _cache_warning_given = True
        return
    tokenizer.FREQ, tokenizer.total, tokenizer.initialized = freq, total, True


# -- the faster stand-in, fenced -------------------------------------------------------

FAST_DISTRIBUTION = "jieba-next"
VERIFIED_FAST_VERSIONS: tuple[str, ...] = ("1.0.0rc1",)
FAST_ENV = "FINSEARCH_FAST_JIEBA"  # 0: jieba itself, always
# A build of fewer posts segments with jieba itself: loading and checking the stand-in (and
# loading jieba again after it) costs more than the stand-in saves.
STAND_IN_MIN_POSTS = 20_000
_fast: Any = None  # the checked stand-in this process segments with, if any


def fast_segmenter_allowed() -> str | None:
    """Why the stand-in may not be used (None: the gate lets it through)."""
    if os.environ.get(FAST_ENV, "1").strip() == "0":
        return f"{FAST_ENV}=0"
    try:
        version = importlib.metadata.version(FAST_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return f"{FAST_DISTRIBUTION} is not installed"
    if version not in VERIFIED_FAST_VERSIONS:
        return f"{FAST_DISTRIBUTION} {version} is not one of the verified versions {', '.join(VERIFIED_FAST_VERSIONS)}"
    return None


def _load_fast() -> Any:
    import jieba_next
    tokenizer = jieba_next.Tokenizer()
    tokenizer.tmp_dir = str(cache_dir())
    tokenizer.cache_file = str(cache_dir() / "jieba-next.cache")  # its cache is its own format
    tokenizer.initialize()
    with resources.as_file(USER_DICT) as path:
        tokenizer.load_userdict(str(path))
    return tokenizer


@contextlib.contextmanager
def segmenting_for_build(sample: Iterable[str], posts: int) -> Iterator[bool]:
    """Within the block, this process (and the workers it forks) segments with the stand-in if
    the build is large enough (`posts`: STAND_IN_MIN_POSTS), the gate allows it and it agrees with
    jieba on every text of `sample`; else with jieba (and one warning, but for a small build).
    Yields whether the stand-in is used."""
    global _fast
    if not worth_a_stand_in(posts):
        segmenter()  # loaded once, before any worker forks
        yield False
        return
    why = fast_segmenter_allowed()
    if why is None:
        try:
            candidate = _load_fast()
            why = first_disagreement(list(sample), reference_segmenter(), candidate)
        except Exception as error:  # noqa: BLE001  a broken install or API: what the fence is for
            why = f"{type(error).__name__}: {error}"
    if why is not None:
        log.warning("segmenting with jieba itself, which is slower (%s)", why)
        segmenter()  # loaded once, before any worker forks
        yield False
        return
    _fast = candidate
    reference_segmenter.cache_clear()  # the workers fork without it: its memory is not theirs
    try:
        yield True
    finally:
        _fast = None


def worth_a_stand_in(posts: int) -> bool:
    """Whether a build of `posts` posts gains by the stand-in (and by dropping its parent's
    dictionary: `forget`)."""
    return posts >= STAND_IN_MIN_POSTS


def forget() -> None:
    """Drop this process's segmenter (a build's parent once its workers have forked: it segments
    nothing itself, and its copy of the dictionary would count again in the build's memory; the
    workers keep theirs). Loaded again if asked for."""
    global _fast
    _fast = None
    reference_segmenter.cache_clear()


def first_disagreement(texts: list[str], reference: Any, candidate: Any) -> str | None:
    """How the candidate segments any of `texts` otherwise than the reference, in what the index
    takes from it, or None."""
    from finsearch.analysis.aliases import stock_mentions
    from finsearch.analysis.normalize import fold
    from finsearch.analysis.tokenizers import JiebaTokenizer
    for number, text in enumerate(texts):
        folded = fold(text)
        with _segmenting(reference):
            words, names = JiebaTokenizer().analyse(folded), stock_mentions(text)
        with _segmenting(candidate):
            if JiebaTokenizer().analyse(folded) != words:
                return f"the words of sample text {number}"
            if stock_mentions(text) != names:
                return f"the stock names of sample text {number}"
    return None


class _segmenting:
    """Within the block, this process segments with `tokenizer` (for the comparison)."""

    def __init__(self, tokenizer: Any):
        self._tokenizer = tokenizer

    def __enter__(self) -> None:
        global _fast
        self._before, _fast = _fast, self._tokenizer

    def __exit__(self, *exc: object) -> None:
        global _fast
        _fast = self._before



@functools.cache
def words_tagged(*tags: str) -> frozenset[str]:
    """The words jieba's dictionary gives one of `tags` as their part of speech (nt: an
    organisation, ns: a place, n: a common noun, …). Loading jieba's table of tags takes a second,
    which a server's start, a CLI search and a small build should not wait for: the words are kept
    in the cache folder, per jieba version and tags."""
    import jieba
    path = cache_dir() / f"jieba-{jieba.__version__}-words-{'-'.join(sorted(tags))}.txt"
    try:
        return frozenset(path.read_text("utf-8").split("\n"))
    except (OSError, UnicodeDecodeError):
        pass
    import jieba.posseg
    words = sorted(word for word, tag in jieba.posseg.dt.word_tag_tab.items() if tag in tags)
    write_cache_file(path, lambda out: out.write("\n".join(words).encode("utf-8")))
    return frozenset(words)


@functools.cache
def finance_entries() -> tuple[tuple[str, str], ...]:
    """The shipped finance dictionary's (word, part of speech) entries, in its order."""
    lines = USER_DICT.read_text("utf-8").splitlines()
    return tuple((fields[0], fields[-1]) for fields in map(str.split, lines)
                 if fields and not fields[0].startswith("#"))


@functools.cache
def finance_words() -> frozenset[str]:
    """The words of the shipped finance dictionary."""
    return frozenset(word for word, _ in finance_entries())
