"""Four loops a build runs for every post, compiled (analysis/_native.c), behind a fence.

The Python forms are the reference and stay the only form searches use:
- `GramTokenizer.analyse` (analysis/tokenizers.py): a text's unit bigrams;
- `JiebaTokenizer.analyse` after the segmenter's cut: a text's words and the dictionary words in them;
- the MinHash of `near_duplicates.signature`;
- `_FieldPostings.add_tokens` (storage/writer.py): a document's tokens grouped into postings.

The fence, like analysis/segmenter.py's for jieba-next:
- the module is built by `pip install` when a C compiler is there, and skipped when not
  (`optional` in pyproject.toml): an install never fails for it;
- a gate: FINSEARCH_NATIVE=0 turns it off, and a module of another VERSION (a stale build of an
  older source) is not used;
- a check when a build starts (`compiled_for_build`, on a sample of the posts it indexes, and by
  tests/test_native.py on every post of data/posts): each compiled loop must give exactly what its
  Python form gives;
- the fallback: the Python forms, with one warning.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

NATIVE_ENV = "FINSEARCH_NATIVE"
MODULE = "finsearch.analysis._native"
VERSION = 2  # analysis/_native.c's NATIVE_VERSION this code was checked against

# A check of a layer above (storage's grouping): where a candidate module disagrees on the texts, or None.
Check = Callable[[list[str], Any], "str | None"]

_active: Any = None  # the checked module this process (and the workers it forks) builds with, if any


def compiled() -> Any:
    """The compiled loops a build has checked (`compiled_for_build`), or None: the Python forms."""
    return _active


def native_allowed() -> str | None:
    """Why the compiled loops may not be used (None: the gate lets them through)."""
    if os.environ.get(NATIVE_ENV, "1").strip() == "0":
        return f"{NATIVE_ENV}=0"
    return None


def load() -> ModuleType:
    """The compiled module; raises ImportError (not built) or RuntimeError (another version)."""
    module = importlib.import_module(MODULE)
    if getattr(module, "VERSION", None) != VERSION:
        raise RuntimeError(f"{MODULE} is version {getattr(module, 'VERSION', None)}, not {VERSION}: "
                           "reinstall (pip install -e .) to rebuild it")
    return module


@contextlib.contextmanager
def compiled_for_build(sample: Iterable[str], *checks: Check) -> Iterator[bool]:
    """Within the block, this process (and the workers it forks) runs the compiled loops if the
    gate allows them and they agree with the Python forms on every text of `sample` (the checks
    here, and `checks` of the layers above: storage's grouping); else the Python forms, with one
    warning. Yields whether the compiled loops are used."""
    global _active
    why = native_allowed()
    if why is None:
        try:
            candidate = load()
            texts = list(sample)
            why = next(filter(None, (check(texts, candidate) for check in (first_disagreement, *checks))), None)
        except ImportError as error:
            why = f"{MODULE} is not built ({error}); a C compiler at install time builds it"
        except Exception as error:  # noqa: BLE001  a broken build or API: what the fence is for
            why = f"{type(error).__name__}: {error}"
    if why is not None:
        log.warning("building with the Python forms of the compiled loops, which are slower (%s)", why)
        yield False
        return
    _active = candidate
    try:
        yield True
    finally:
        _active = None


@contextlib.contextmanager
def using(module: Any) -> Iterator[None]:
    """Within the block, this process runs `module`'s loops (None: the Python forms): for the checks."""
    global _active
    before, _active = _active, module
    try:
        yield
    finally:
        _active = before


def first_disagreement(texts: list[str], candidate: Any) -> str | None:
    """Where the candidate's bigrams, words or signatures differ from the Python forms' on `texts`, or None."""
    from finsearch.analysis import near_duplicates
    from finsearch.analysis.normalize import fold
    from finsearch.analysis.tokenizers import GramTokenizer, JiebaTokenizer

    analysers = {"unit bigrams": GramTokenizer(), "words": JiebaTokenizer()}
    for number, text in enumerate(texts):
        folded = fold(text)
        title, _, body = text.partition("\n")
        with using(None):
            reference = {name: analyser.analyse(folded) for name, analyser in analysers.items()}
            signature = near_duplicates.signature(title, body)
        with using(candidate):
            for name, analyser in analysers.items():
                if analyser.analyse(folded) != reference[name]:
                    return f"the {name} of sample text {number}"
            if near_duplicates.signature(title, body) != signature:
                return f"the signature of sample text {number}"
    return None
