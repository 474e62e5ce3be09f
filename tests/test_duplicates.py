"""Two files with one id: the first path in path order keeps it, in a full build, a reindex and a read."""
from __future__ import annotations

import shutil
from pathlib import Path

from finsearch.indexer import build_index, read_archive, reindex
from finsearch.search import SearchEngine
from tests.conftest import FINEWS_POSTS

CODE = "202205022367563116"
JIEFANG = FINEWS_POSTS / f"2022-05-02-{CODE}.md"  # 上海金融国企保障金融血脉畅通
GONGHANG = FINEWS_POSTS / "2022-03-21-202203212317465687.md"  # 工商银行全面深化数字化应用…
GONGHANG_TITLE = "工商银行全面深化数字化应用 打造数字普惠发展新模式"
# Path order goes folder by folder: the file in the folder 2022-05 comes first, although as plain
# strings "2022-05-02-…" < "2022-05/…" ("-" < "/").
FIRST = f"2022-05/2022-05-02-{CODE}.md"
SECOND = f"2022-05-02-{CODE}.md"
LATER = f"zz/2022-05-02-{CODE}.md"


def put(archive: Path, rel: str, source: Path) -> None:
    (archive / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, archive / rel)


def problems(report_problems) -> list[tuple[str, str, bool]]:
    return [(p.path, p.reason, p.skipped) for p in report_problems]


def kept(index: Path) -> tuple[str, str, int]:
    engine = SearchEngine(index)
    try:
        article = engine.article(CODE)
        return article.path, article.title, engine.stats().documents
    finally:
        engine.close()


def test_a_full_build_and_a_read_keep_the_first_path(tmp_path):
    archive = tmp_path / "_posts"
    put(archive, SECOND, JIEFANG)
    put(archive, FIRST, GONGHANG)
    expected = [(SECOND, f"duplicate id {CODE} (kept {FIRST})", True)]

    read = list(read_archive(archive))
    assert [r.post.path for r in read if r.post] == [FIRST]
    assert problems(p for r in read for p in r.problems) == expected

    report = build_index(archive, tmp_path / "ix", progress=False)
    assert (report.indexed, problems(report.problems)) == (1, expected)
    assert kept(tmp_path / "ix") == (FIRST, GONGHANG_TITLE, 1)


def test_a_reindex_keeps_the_path_a_full_build_keeps(tmp_path):
    archive = tmp_path / "_posts"
    index = tmp_path / "ix"
    put(archive, SECOND, JIEFANG)
    build_index(archive, index, progress=False)
    assert kept(index) == (SECOND, "上海金融国企保障金融血脉畅通", 1)

    put(archive, FIRST, GONGHANG)  # an earlier path with the same id: it takes the id over
    report = reindex(archive, index, progress=False)
    assert (report.added, report.deleted) == (1, 0)
    assert problems(report.problems) == [(SECOND, f"duplicate id {CODE} (kept {FIRST})", True)]
    assert kept(index) == (FIRST, GONGHANG_TITLE, 1)

    put(archive, LATER, JIEFANG)  # a later path with the same id: skipped
    report = reindex(archive, index, progress=False)
    assert report.added == 0
    assert problems(report.problems) == [(SECOND, f"duplicate id {CODE} (kept {FIRST})", True),
                                         (LATER, f"duplicate id {CODE} (kept {FIRST})", True)]
    assert kept(index) == (FIRST, GONGHANG_TITLE, 1)

    full = build_index(archive, tmp_path / "full", progress=False)
    assert kept(tmp_path / "full") == kept(index)
    assert problems(full.problems) == [(SECOND, f"duplicate id {CODE} (kept {FIRST})", True),
                                       (LATER, f"duplicate id {CODE} (kept {FIRST})", True)]
