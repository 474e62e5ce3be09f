"""Shared fixtures: the real posts shipped in data/posts, indexed once per test session; the CLI in
this process; one `finsearch serve` and one Chromium for the whole run.

Tests need nothing outside the repository: data/posts holds the finews posts the project was
specified from (data/posts/finews) and 3,005 real wire posts (财联社, 东方财富, 同花顺) of six days of
2026. A test that needs one particular real post reads it from tests/fixtures/posts (see tests/fixtures/README.md),
so a change to the sample archive cannot change what that test checks.

Tiers: a test is in the fast tier (`make test-fast`, the edit-run loop) unless it is marked
- `browser`: drives Chromium; any test that uses the `browser` fixture is marked by itself,
- `server`: talks to a `finsearch serve` process; any test that uses the `server` fixture is marked by itself,
- `slow`: takes more than about a second, or needs a process of its own (the CLI as a real process, a crash,
  runs at once); mark it by hand, the test or the module (`pytestmark`).
A fast-tier test that starts a process fails and says so; `make test-fast` lists its slowest tests, so one that
has grown slow shows. `make test` runs every tier.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import serving

REPO = Path(__file__).resolve().parents[1]
SAMPLE_POSTS = REPO / "data" / "posts"
FIXTURE_POSTS = REPO / "tests" / "fixtures" / "posts"
FINEWS_POSTS = FIXTURE_POSTS / "finews"  # the two HTML posts (解放日报, 经济网) and three emnews posts
ARTIFACTS = REPO / "test-artifacts"  # the browser tests' screenshots (git-ignored; CI keeps them)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIERS = ("browser", "server", "slow")


@pytest.hookimpl(tryfirst=True)  # before -m selects by the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in ("browser", "server"):
            if fixture in item.fixturenames:
                item.add_marker(fixture)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """The fast tier stays fast: a fast-tier test, or a fixture it sets up, that starts a process (the CLI, a
    server, a browser) fails; multiprocessing's forks, the build's workers, still run."""
    if any(item.get_closest_marker(tier) for tier in TIERS):
        return (yield)

    def refuse(*args, **kwargs):
        raise AssertionError(f"a fast-tier test started a process ({args[0] if args else kwargs}): call the CLI "
                             f"with the `cli` fixture, or mark the test {' or '.join(TIERS)} (tests/conftest.py)")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess, "Popen", refuse)
        return (yield)


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
def archive_read(archive) -> list:
    """What read_archive makes of the archive, file by file (a post or None, and its problems), read once."""
    from finsearch.indexer import read_archive
    return list(read_archive(archive))


@pytest.fixture(scope="session")
def archive_posts(archive_read) -> list:
    return [r.post for r in archive_read if r.post is not None]


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, "utf-8")
    return path


POST = """---
layout: post
title: "{title}"
date: {date}
categories: emnews
tags: 东财滚动新闻
---

{body}

<http://finance.eastmoney.com/a/1.html>

[返回东财滚动新闻](//finews.withounder.com/emnews/)｜[返回首页](//finews.withounder.com/)
"""
BROKEN_YAML = FIXTURE_POSTS / "broken-yaml" / "2026-07-01-2414210.md"  # title: "法国与印度就114架"阵风"…"
NO_DATE = FIXTURE_POSTS / "no-date" / "-202205262391921712.md"  # title: "", date:  +0800


@pytest.fixture
def messy_archive(tmp_path):
    """Real posts (a good one, one with broken YAML, one without a date) next to every other kind of bad
    post the real archive has (tests/test_ingest.py, tests/test_build.py)."""
    root = tmp_path / "_posts"
    root.mkdir()
    for real in (FINEWS_POSTS / "2022-05-02-202205022367563116.md", BROKEN_YAML, NO_DATE):
        shutil.copy(real, root / real.name)
    emnews = FINEWS_POSTS / "2021-12-08-202112082206672930.md"  # a real post, after a blank line
    _write(root, emnews.name, b"\n" + emnews.read_bytes())
    _write(root, "2026-07-02-1000002.md", "没有前言的正文，只有一句话。\n")
    _write(root, "nodate-1000003.md", POST.format(title="无日期", date="", body="正文。"))
    _write(root, "2026-07-04-1000005.md", POST.format(title="只有标题", date="2026-07-04 08:00:00 +0800", body=""))
    _write(root, "2026-07-05-1000006.md", POST.format(title="国债收益率走低", date="2026-07-05 09:00:00 +0800",
                                                      body="国债期货全线收涨。").encode("gbk"))
    _write(root, "2026-07-06-1000007.md", POST.format(title="大文件", date="2026-07-06 09:00:00 +0800",
                                                      body="很长" * (3 * 1024 * 1024)))
    _write(root, "2026-07-07-1000008.md", POST.format(title="第一篇", date="2026-07-07 09:00:00 +0800", body="甲。"))
    _write(root, "copy/2026-07-07-1000008.md", POST.format(title="同一编号", date="2026-07-07 10:00:00 +0800", body="乙。"))
    _write(root, "2026-07-08-1000009.md", POST.format(title="", date="2026-07-08 09:00:00 +0800", body=""))
    _write(root, "2026-07-09-1000010.md", b"\x00\x01binary")
    _write(root, "2026-07-10-1000011.md", POST.format(title="空链接", date="2026-07-10 09:00:00 +0800", body="正文。\n\n<>"))
    return root


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


@dataclass
class CliRun:
    """What one `finsearch` command did: the attributes of subprocess.CompletedProcess."""
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture()
def cli(capsys) -> Callable[..., CliRun]:
    """`finsearch ARGS…` run in this process by finsearch.cli.main; tests.servers.finsearch runs it as a process."""
    from finsearch.cli import main

    def run(*args: object) -> CliRun:
        capsys.readouterr()  # what came before is not the command's
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exit:  # argparse: --help (0) and usage errors (2)
            code = int(exit.code or 0)
        out, err = capsys.readouterr()
        return CliRun(code, out, err)
    return run


@pytest.fixture(scope="session")
def server(index_dir, tmp_path_factory) -> Iterator[str]:
    """`finsearch serve` (gunicorn, two workers) on the sample index, for the whole run: its base URL.
    Tests only read through it; one that needs another index or a restart starts its own (tests.servers)."""
    log_path = tmp_path_factory.mktemp("server") / "server.log"

    def has_documents(base: str) -> bool:
        with urllib.request.urlopen(f"{base}/api/stats", timeout=2) as response:
            return response.status == 200 and json.load(response)["documents"] > 0

    with serving(index_dir, log_path, workers=2, ready=has_documents) as base:
        yield base
    # The access log goes to stdout.
    assert re.search(r'"GET /api/stats HTTP/1\.[01]" 200', log_path.read_text()), log_path.read_text()[-2000:]


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium through Playwright, for the whole run (each test opens its own context)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Chromium (e.g. apt-get install chromium) to run the browser "
                    "tests", pytrace=False)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where the browser tests leave their screenshots."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture()
def watched_page(browser):
    """watched_page(viewport, **context options) -> (page, problems): a page in a browser context of its own
    (locale zh-CN and 10 s for each action unless `locale` or `timeout` say otherwise; None leaves Playwright's
    default) and the list its script errors and CSP violations (console errors, uncaught exceptions) go to.
    Every context it opened is closed after the test, passed or failed; the test asserts on the problems."""
    contexts = []

    def open_page(viewport=None, *, locale: str | None = "zh-CN", timeout: float | None = 10_000, **options):
        context = browser.new_context(viewport=viewport, locale=locale, **options)
        contexts.append(context)
        if timeout is not None:
            context.set_default_timeout(timeout)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        return page, problems

    yield open_page
    for context in contexts:
        context.close()  # a no-op for one the test closed itself


# -- a small site: 300 real posts and their index ---------------------------------------------


def first_posts(count: int) -> list[Path]:
    """The finews posts and the first real wire posts of 2026-06, `count` in all."""
    return sorted(FINEWS_POSTS.glob("*.md")) + sorted((SAMPLE_POSTS / "2026-06").glob("*.md"))[:count - 5]


def make_archive(folder: Path, count: int = 300) -> Path:
    folder.mkdir(parents=True)
    for path in first_posts(count):
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """300 real posts (make_archive) and their index, built once a module; each test works on copies (`site`)."""
    from finsearch.indexer import build_index
    root = tmp_path_factory.mktemp("built")
    archive = make_archive(root / "posts")
    assert build_index(archive, root / "index", progress=False).indexed == 300
    return archive, root / "index"


@pytest.fixture()
def site(built, tmp_path) -> tuple[Path, Path]:
    archive, index = built
    shutil.copytree(archive, tmp_path / "posts")
    shutil.copytree(index, tmp_path / "index", symlinks=True)
    return tmp_path / "posts", tmp_path / "index"

