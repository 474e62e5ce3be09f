"""Shared fixtures: the real posts shipped in data/posts, indexed once per test session.

Tests need nothing outside the repository: data/posts holds the finews posts the project was
specified from (data/posts/finews) and 3,005 real wire posts (财联社, 东方财富, 同花顺) of six days of
2026. A test that needs one particular real post reads it from tests/fixtures/posts (see tests/fixtures/README.md),
so a change to the sample archive cannot change what that test checks.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_POSTS = REPO / "data" / "posts"
FIXTURE_POSTS = REPO / "tests" / "fixtures" / "posts"
FINEWS_POSTS = FIXTURE_POSTS / "finews"  # the two HTML posts (解放日报, 经济网) and three emnews posts


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
    """A copy of data/posts (so a test that changes it changes only its copy)."""
    root = tmp_path_factory.mktemp("archive") / "posts"
    shutil.copytree(SAMPLE_POSTS, root)
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


@pytest.fixture(scope="module")
def app(index_dir):
    """The Flask app on the sample index (one per test module)."""
    from finsearch.webui import create_app
    app = create_app(index_dir, TESTING=True)
    yield app
    app.extensions["finsearch"].close()


@pytest.fixture()
def client(app):
    return app.test_client()
