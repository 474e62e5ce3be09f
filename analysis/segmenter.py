"""The jieba segmenter, with the shipped finance dictionary, loaded once per process.

jieba keeps a cache of its prefix dictionary; by default it writes it to a shared
file in the system temp dir. We keep it in our own cache dir instead
(FINSEARCH_CACHE, else ~/.cache/finsearch) so that users and CI runs don't fight
over one file.
"""
from __future__ import annotations

import functools
import logging
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jieba

USER_DICT = resources.files("finsearch.analysis") / "finance_dict.txt"


def cache_dir() -> Path:
    base = os.environ.get("FINSEARCH_CACHE") or Path.home() / ".cache" / "finsearch"
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


@functools.cache
def segmenter() -> jieba.Tokenizer:
    # Imported here: opening an index or answering `finsearch stats` segments nothing.
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.tmp_dir = str(cache_dir())
    tokenizer.initialize()
    with resources.as_file(USER_DICT) as path:
        tokenizer.load_userdict(str(path))
    return tokenizer


@functools.cache
def finance_words() -> frozenset[str]:
    """The words of the shipped finance dictionary."""
    lines = USER_DICT.read_text("utf-8").splitlines()
    return frozenset(line.split()[0] for line in lines if line.strip() and not line.startswith("#"))
