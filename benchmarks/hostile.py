"""What one hostile post costs: a 4.8 MB post with 54,000 matches of 银行, and a YAML alias bomb.

    .venv/bin/python -m benchmarks.hostile [--results DIR]

Builds the post from real clauses of data/posts that say 银行 (padded with real
paragraphs), indexes it with the five finews posts into a temporary folder, then
times what a search and the article page do with it: the snippet alone, a cold
search (no match cache), the article's paragraphs highlighted, and the pages
through the Flask app. The former snippet algorithm (quadratic in the matches)
is the baseline, timed on the first 1,000 / 2,000 / 4,000 matches only: on all
54,000 it runs for minutes. Small input (one post and five others): safe on a
shared machine. Prints a table and writes JSON to benchmarks/results/hostile-<time>.json.
"""
from __future__ import annotations

import argparse
import functools
import itertools
import json
import re
import shutil
import statistics
import tempfile
import time
from html import escape
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE_POSTS = HERE.parent / "data" / "posts"
DEFAULT_RESULTS = HERE / "results"
HUGE_MATCHES = 54_000
HUGE_BYTES = 4_800_000
CLAUSES_PER_PARAGRAPH = 20


@functools.cache
def huge_body(matches: int = HUGE_MATCHES, size: int = HUGE_BYTES) -> str:
    """A Markdown body of at least `size` bytes whose paragraphs say 银行 at least `matches` times:
    real clauses of data/posts that say 银行, then real paragraphs (银行 replaced by 机构)."""
    from finsearch.indexer.ingest import read_post

    clauses: list[str] = []
    padding: list[str] = []
    for path in sorted(SAMPLE_POSTS.rglob("*.md")):
        if "银行" not in path.read_text("utf-8", errors="replace"):
            continue
        post = read_post(path, SAMPLE_POSTS).post
        for paragraph in post.paragraphs if post else ():
            clauses += re.findall(r"[^。！？，；]*银行[^。！？，；]*", paragraph)
            padding.append(paragraph.replace("银行", "机构"))
    paragraphs: list[str] = []
    found = written = 0
    while found < matches:
        for start in range(0, len(clauses), CLAUSES_PER_PARAGRAPH):
            paragraph = "，".join(clauses[start:start + CLAUSES_PER_PARAGRAPH]) + "。"
            paragraphs.append(paragraph)
            found += paragraph.count("银行")
            written += len(paragraph.encode()) + 2
    while written < size:
        paragraphs.append(padding[len(paragraphs) % len(padding)])
        written += len(paragraphs[-1].encode()) + 2
    return "\n\n".join(paragraphs) + "\n"


def former_snippet_html(text: str, terms: tuple[str, ...]) -> str:
    """search.snippets.snippet_html as it was before the match cap (every window scanned all
    matches, over the folded text): the baseline here, and the oracle that today's snippets of
    real posts must equal. Units are today's (analysis.unit_pattern)."""
    from finsearch.analysis import fold, unit_pattern, unit_runs
    from finsearch.search import snippets as s

    patterns = []
    for term in terms:
        for run in unit_runs(fold(term)):
            patterns.append((len(run), unit_pattern([unit for unit, _, _ in run])))
    patterns.sort(key=lambda item: -item[0])
    matcher = re.compile("|".join(f"(?:{p})" for _, p in patterns)) if patterns else None
    spans = [m.span() for m in matcher.finditer(fold(text)) if m.end() > m.start()] if matcher else []
    if not spans:
        end = min(len(text), s.SNIPPET_CHARS)
        return escape(s._flat(text[:end])) + ("…" if end < len(text) else "")
    folded = fold(text)

    def score(start: int) -> tuple[int, int]:
        inside = [folded[a:b] for a, b in spans if start <= a and b <= start + s.SNIPPET_CHARS]
        return len(set(inside)), len(inside)

    starts = []
    for a, _ in spans:
        start = max(0, a - s.CONTEXT_CHARS)
        boundary = [m.start() for m in s._SENTENCE_START.finditer(text, start, a)]
        starts.append(boundary[0] if boundary else start)
    passages: list[tuple[int, int]] = []
    seen: set[str] = set()
    for _, start in sorted(((score(st), st) for st in starts), key=lambda i: (-i[0][0], -i[0][1], i[1])):
        end = min(len(text), start + s.SNIPPET_CHARS)
        end = max([end] + [b for a, b in spans if a < end < b])
        if any(start < b and a < end for a, b in passages):
            continue
        inside = {folded[a:b] for a, b in spans if start <= a and b <= end}
        if passages and inside <= seen:
            continue
        passages.append((start, end))
        seen |= inside
        if len(passages) == s.MAX_PASSAGES:
            break
    parts = []
    for start, end in sorted(passages):
        out, pos = [], start
        for a, b in spans:
            if b <= pos or a >= end:
                continue
            a, b = max(a, pos), min(b, end)
            out += [escape(s._flat(text[pos:a])), f"<mark>{escape(s._flat(text[a:b]))}</mark>"]
            pos = b
        out.append(escape(s._flat(text[pos:end])))
        parts.append(("…" if start > 0 else "") + "".join(out) + ("…" if end < len(text) else ""))
    return " ".join(parts)


def alias_bomb(levels: int = 6) -> str:
    """Nine aliases of nine aliases of …: a few hundred bytes of YAML that expand ×9 per level."""
    names = "abcdefghij"[:levels]
    lines = ["a: &a [银行,银行,银行,银行,银行,银行,银行,银行,银行]"]
    for previous, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + f"\ncategories: *{names[-1]}\ntags: *{names[-1]}"


def timed(action, repeat: int = 5) -> float:
    """Median seconds of `repeat` runs."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def prefix_with_matches(text: str, matches: int) -> str:
    """The start of `text` up to (and with) its `matches`-th 银行."""
    end = 0
    for _ in range(matches):
        end = text.index("银行", end) + 2
    return text[:end]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args()
    from finsearch.indexer import build_index
    from finsearch.indexer.ingest import read_post
    from finsearch.search import SearchEngine, SearchRequest
    from finsearch.search.snippets import snippet_html
    from finsearch.webui import create_app

    rows: list[tuple[str, float | int | str]] = []
    work = Path(tempfile.mkdtemp(prefix="finsearch-hostile-"))
    try:
        archive = work / "posts"
        archive.mkdir()
        for path in sorted((SAMPLE_POSTS / "finews").glob("*.md")):
            shutil.copy(path, archive / path.name)
        markup = huge_body()
        huge = archive / "2026-07-01-660000000000000001.md"
        huge.write_text(f"---\ntitle: 一篇极长的银行业报道\ndate: 2026-07-01 09:00:00 +0800\n---\n{markup}", "utf-8")
        post = read_post(huge, archive).post
        assert post is not None
        body = "\n".join(post.paragraphs)
        rows += [("huge post: file bytes", huge.stat().st_size), ("huge post: characters", len(body)),
                 ("huge post: matches of 银行", body.count("银行"))]
        for matches in (1_000, 2_000, 4_000):
            part = prefix_with_matches(body, matches)
            rows.append((f"snippet, former algorithm, first {matches:,} matches (s)",
                         round(timed(lambda part=part: former_snippet_html(part, ("银行",)), 1), 4)))
            rows.append((f"snippet, now, first {matches:,} matches (s)",
                         round(timed(lambda part=part: snippet_html(part, ("银行",))), 4)))
        rows.append(("snippet, now, whole post (s)", round(timed(lambda: snippet_html(body, ("银行",))), 4)))
        absent = body.replace("银行", "机构")
        rows.append(("snippet, now, whole post, no match (s)", round(timed(lambda: snippet_html(absent, ("银行",))), 4)))

        index = work / "index"
        started = time.perf_counter()
        build_index(archive, index, progress=False)
        rows.append(("index build, 6 posts (s)", round(time.perf_counter() - started, 2)))
        engine = SearchEngine(index, match_cache=0)
        try:
            rows.append(("engine search 银行, cold, top 10 with snippets (s)",
                         round(timed(lambda: engine.search(SearchRequest(query="银行"))), 4)))
            article = engine.article("660000000000000001")
            assert article is not None and article.truncated
            rows.append(("article: paragraphs / characters shown",
                         f"{len(article.paragraphs)} / {sum(map(len, article.paragraphs))}"))
            rows.append(("article: paragraphs highlighted (s)",
                         round(timed(lambda: [engine.highlight(p, "银行") for p in article.paragraphs]), 4)))
        finally:
            engine.close()
        app = create_app(index, TESTING=True)
        client = app.test_client()
        for label, url in (("search page /?q=银行", "/?q=银行"),
                           ("article page", "/articles/660000000000000001?q=银行"),
                           ("article JSON", "/api/articles/660000000000000001")):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            rows.append((f"{label}: bytes", len(response.data)))
            rows.append((f"{label}: seconds", round(timed(lambda url=url: client.get(url), 3), 4)))
        app.extensions["finsearch"].close()

        bomb = archive / "2026-07-02-770001.md"
        bomb.write_text(f"---\ntitle: 别名炸弹\ndate: 2026-07-02\n{alias_bomb()}\n---\n正文。\n", "utf-8")
        rows.append(("alias bomb: front matter bytes", len(alias_bomb().encode())))
        result = read_post(bomb, archive)
        assert result.post is not None
        rows.append(("alias bomb: read (s)", round(timed(lambda: read_post(bomb, archive)), 5)))
        rows.append(("alias bomb: characters of categories + tags",
                     sum(map(len, result.post.categories + result.post.tags))))
        rows.append(("alias bomb: report", result.problems[0].reason))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"hostile-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(dict(rows), ensure_ascii=False, indent=1), "utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
