"""Shared fixtures: real posts from ../shared/corpus, indexed once per test session."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS_POSTS = SHARED / "corpus" / "posts"
WIRE_TO_POSTS = SHARED / "tools" / "wire_to_posts.py"
# Real wire items (财联社, 东方财富, 同花顺) from three days in three months: 2,100 posts.
WIRE_DAYS = ("2026-05-29", "2026-06-26", "2026-07-30")
WIRE_POSTS_PER_DAY = 700


def write_wire_posts(out: Path, days=WIRE_DAYS, per_day: int = WIRE_POSTS_PER_DAY) -> Path:
    for day in days:
        subprocess.run([sys.executable, str(WIRE_TO_POSTS), str(out), "-n", str(per_day), "--since", day,
                        "--until", day], check=True, capture_output=True)
    return out


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Keep jieba's cache and any default index out of the user's home."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FINSEARCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    mp.delenv("FINSEARCH_INDEX", raising=False)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> Path:
    """The real finews posts of ../shared/corpus/posts plus ~2,000 real wire posts."""
    root = tmp_path_factory.mktemp("archive")
    shutil.copytree(CORPUS_POSTS, root / "finews")
    write_wire_posts(root / "wire")
    return root


@pytest.fixture(scope="session")
def archive_posts(archive) -> list:
    from finsearch.indexer import read_archive
    return [r.post for r in read_archive(archive) if r.post is not None]


@pytest.fixture(scope="session")
def index_dir(archive, tmp_path_factory) -> Path:
    from finsearch.indexer import build_index
    root = tmp_path_factory.mktemp("index")
    report = build_index(archive, root, progress=False)
    assert report.indexed > 0
    return root


@pytest.fixture(scope="session")
def engine(index_dir):
    from finsearch.search import SearchEngine
    engine = SearchEngine(index_dir)
    yield engine
    engine.close()
