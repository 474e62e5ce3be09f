"""Read replicas on loopback: the writer's index published in two other index roots by
`finsearch replicate`, each served by its own real `finsearch serve` (gunicorn).

Both servers must answer exactly what the engine answers on the writer's index, follow a new
generation without a restart, and keep serving the old one when a replicate is refused.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlencode

import pytest

from finsearch.render import result_to_json
from finsearch.search import SearchEngine, make_request
from finsearch.storage import generations as store
from finsearch.storage.manifest import generation_files
from tests.servers import finsearch, serving

FOLLOW_TIMEOUT = 10  # seconds for a server to serve a generation just published
# A real wire post of 东方财富, republished under a new id and a title no post of the archive has.
NEW_POST = Path("2026-08/2026-08-20-202608193846537521.md")
QUERIES = ([("q", "供应链金融")], [("q", "央行")],
           [("q", "银行"), ("category", "cailianshe"), ("sort", "newest"), ("page", "2")])


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _serving(index: Path, log_path: Path):
    """`finsearch serve --index INDEX` on a free loopback port, answering /healthz 200."""
    return serving(index, log_path, ready=lambda base: _get(f"{base}/healthz")[0] == 200)


def _finsearch(*args: object, env_crash: str | None = None) -> subprocess.CompletedProcess:
    """The CLI as an operator runs it, a process (the module's fixtures run it too, and a crash ends it);
    `env_crash`: the step it dies at (store.CRASH_ENV)."""
    return finsearch(*args, env={store.CRASH_ENV: env_crash} if env_crash else None)


def _replicate(source: Path, dest: Path) -> dict:
    done = _finsearch("replicate", source, dest, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _search(base: str, params: list[tuple[str, str]]) -> dict:
    status, answer = _get(f"{base}/api/search?{urlencode(params)}")
    assert status == 200, answer
    answer.pop("took_ms")
    return answer


def _on_the_writer(source: Path, params: list[tuple[str, str]]) -> dict:
    """What the engine itself answers on the writer's index, as the API writes it."""
    args = dict(params)
    engine = SearchEngine(source)
    try:
        request = make_request(args["q"], categories=[v for k, v in params if k == "category"],
                               sort=args.get("sort"), page=args.get("page"))
        answer = json.loads(json.dumps(result_to_json(engine.search(request)), ensure_ascii=False))
    finally:
        engine.close()
    answer.pop("took_ms")
    return answer


def _add_post(archive: Path, source: Path, post_id: str, title: str) -> None:
    """A real post under a new id and title, applied by the real nightly reindex."""
    text = (archive / NEW_POST).read_text("utf-8")
    old_title = next(line for line in text.splitlines() if line.startswith("title:"))
    new_post = archive / NEW_POST.parent / f"2026-08-20-{post_id}.md"
    new_post.write_text(text.replace(old_title, f'title: "{title}"', 1), "utf-8")
    done = _finsearch("reindex", archive, "--index", source)
    assert done.returncode == 0 and "1 added" in done.stdout, done.stdout + done.stderr


def _found(base: str, title: str) -> bool:
    return any(hit["title"] == title for hit in _search(base, [("q", title)])["hits"])


def _wait_until_found(base: str, title: str) -> None:
    deadline = time.monotonic() + FOLLOW_TIMEOUT
    while not _found(base, title):
        assert time.monotonic() < deadline, f"{base} did not find {title} within {FOLLOW_TIMEOUT} s"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def site(archive, index_dir, tmp_path_factory) -> tuple[Path, Path]:
    """The writer: its own copy of the sample archive and of its index."""
    root = tmp_path_factory.mktemp("writer")
    shutil.copytree(archive, root / "posts")
    shutil.copytree(index_dir, root / "index", symlinks=True)
    return root / "posts", root / "index"


@pytest.fixture(scope="module")
def replicas(site, tmp_path_factory) -> Iterator[list[tuple[Path, str]]]:
    """Two replicas of the writer's index, (index root, server URL) each, served until the module ends:
    node A copies from the writer's root (a shared mount), node B from an rsync-style copy of it.
    Servers of their own, not conftest's: each serves a replica's root and follows its new generations."""
    _, source = site
    root = tmp_path_factory.mktemp("nodes")
    nodes = [root / "a" / "index", root / "b" / "index"]
    _replicate(source, nodes[0])
    staging = root / "b" / "incoming"
    shutil.copytree(source, staging, symlinks=True)  # what `rsync -aH` of the writer's root leaves
    _replicate(staging, nodes[1])
    with ExitStack() as stack:
        yield [(node, stack.enter_context(_serving(node, node.parent / "server.log"))) for node in nodes]


def _builds_served(nodes: list[tuple[Path, str]]) -> list[str]:
    answers = [_get(f"{base}/healthz") for _, base in nodes]
    assert all(status == 200 for status, _ in answers), answers
    return [answer["build"] for _, answer in answers]


@pytest.mark.server
def test_two_replicas_answer_what_the_writer_answers(site, replicas):
    _, source = site
    assert _builds_served(replicas) == [store.current_build(source).name] * 2
    for params in QUERIES:
        expected = _on_the_writer(source, params)
        assert expected["total"] > 0 and expected["hits"], params
        assert [_search(base, params) for _, base in replicas] == [expected, expected], params
    category_hits = _on_the_writer(source, QUERIES[2])["hits"]
    assert all(hit["categories"] == ["cailianshe"] for hit in category_hits)


@pytest.mark.server
def test_a_new_generation_reaches_both_servers_without_a_restart(site, replicas):
    archive, source = site
    title = "跨节点同步：新一代索引发布到两个节点"
    assert not any(_found(base, title) for _, base in replicas)
    _add_post(archive, source, "900000000000000001", title)
    (node_a, base_a), (node_b, base_b) = replicas
    first = _replicate(source, node_a)
    staging = node_b.parent / "incoming"
    shutil.rmtree(staging)
    shutil.copytree(source, staging, symlinks=True)
    second = _replicate(staging, node_b)
    for outcome in (first, second):
        # The nightly copy costs what the night changed: the unchanged segments are hard links.
        assert outcome["published"] and outcome["linked"] > outcome["copied"] > 0, outcome
        assert outcome["bytes_copied"] < sum(generation_files(store.current_build(source)).values()) / 10
    for base in (base_a, base_b):
        _wait_until_found(base, title)
    assert _builds_served(replicas) == [store.current_build(source).name] * 2
    assert [_search(base, QUERIES[1]) for base in (base_a, base_b)] == [_on_the_writer(source, QUERIES[1])] * 2
    # The replaced generation stays for a rollback on the node.
    assert all(os.readlink(node / "previous") != os.readlink(node / "current") for node, _ in replicas)
    assert _finsearch("replicate", source, node_a).stdout.endswith("nothing to do\n")


@pytest.mark.server
def test_a_generation_that_is_not_whole_is_refused_and_the_servers_keep_the_old_one(site, replicas):
    archive, source = site
    (node_a, base_a), (node_b, base_b) = replicas
    served = _builds_served(replicas)
    title = "跨节点同步：一次没有复制完整的发布"
    _add_post(archive, source, "900000000000000002", title)
    generation = store.current_build(source)
    new_files = sorted(set(generation_files(generation)) - set(generation_files(node_a / "current")))
    segment_file = max(new_files, key=lambda name: (generation / name).stat().st_size)
    kept = segment_file + ".kept"
    shutil.copy2(generation / segment_file, archive.parent / kept)

    def refused(source_root: Path, dest: Path, *words: str) -> None:
        done = _finsearch("replicate", source_root, dest)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 3 and len(lines) == 1 and lines[0].startswith("finsearch: refused:"), done
        assert all(word in lines[0] for word in words), lines[0]
        assert store.read_outcome(dest)["ok"] is False

    # A file cut short (a disk that filled up, an interrupted `rsync --inplace`).
    os.truncate(generation / segment_file, (generation / segment_file).stat().st_size // 2)
    refused(source, node_a, segment_file, "bytes")
    # An rsync of the writer's root caught in the middle of a publish: `current` names a folder
    # that arrived without one of its files.
    os.replace(archive.parent / kept, generation / segment_file)
    staging = node_b.parent / "incoming"
    shutil.rmtree(staging)
    shutil.copytree(source, staging, symlinks=True, ignore=lambda folder, names: [segment_file])
    refused(staging, node_b, segment_file, "missing")
    # Another replicate is still writing the node.
    with store.writer_lock(node_a):
        busy = _finsearch("replicate", source, node_a)
    assert busy.returncode == 1 and "another process is writing" in busy.stderr, busy

    assert _builds_served(replicas) == served
    assert not any(_found(base, title) for base in (base_a, base_b))
    assert not [p.name for node, _ in replicas for p in (node / "builds").iterdir() if p.name.startswith(".")]

    # Whole again, the same generation goes through.
    _replicate(source, node_a)
    _wait_until_found(base_a, title)


def test_a_source_without_an_index_is_refused(cli, tmp_path):
    done = cli("replicate", tmp_path / "nothing", tmp_path / "node")
    assert done.returncode == 1 and done.stderr == f"finsearch: the source {tmp_path / 'nothing'} has no index to " \
                                                   "replicate\n"
    assert not (tmp_path / "node" / "current").exists()


@pytest.fixture(scope="module")
def crash_site(archive, index_dir, tmp_path_factory) -> tuple[Path, Path, str]:
    """A writer one generation ahead of a node: (writer's index, the node's index, the new post's title)."""
    root = tmp_path_factory.mktemp("crash")
    shutil.copytree(archive, root / "posts")
    shutil.copytree(index_dir, root / "index", symlinks=True)
    _replicate(root / "index", root / "node")
    title = "跨节点同步：复制中途崩溃之后"
    _add_post(root / "posts", root / "index", "900000000000000003", title)
    return root / "index", root / "node", title


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before-fsync", "before-swap", "after-swap", "during-cleanup"])
def test_a_replicate_killed_at_any_step_leaves_the_node_whole(crash_site, tmp_path, point):
    source, built_node, title = crash_site
    node = tmp_path / "node"
    shutil.copytree(built_node, node, symlinks=True)
    before = os.readlink(node / "current")
    if point == "during-cleanup":  # something to clean: the unpublished copy of a run killed earlier
        crashed = _finsearch("replicate", source, node, env_crash="before-swap")
        assert crashed.returncode == store.CRASH_EXIT_CODE, crashed.stderr
    crashed = _finsearch("replicate", source, node, env_crash=point)
    assert crashed.returncode == store.CRASH_EXIT_CODE, crashed.stderr
    if point == "after-swap":  # the copy was verified and is serving
        assert store.current_build(node).name == store.current_build(source).name
    else:
        assert os.readlink(node / "current") == before
    store.verify_generation(store.current_build(node))  # whatever serves is whole

    _replicate(source, node)
    assert store.current_build(node).name == store.current_build(source).name
    published = {Path(os.readlink(node / name)).name for name in ("current", "previous")}
    for build in (node / "builds").iterdir():
        assert build.name in published or (build / ".published").exists(), build.name
    engine = SearchEngine(node)
    try:
        assert [hit.title for hit in engine.search(make_request(title)).hits][:1] == [title]
    finally:
        engine.close()
