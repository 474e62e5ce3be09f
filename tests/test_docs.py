"""The docs stay true to the code: the README short and linked, every command, option, route, error
code and environment variable documented, every link and anchor resolving, every benchmark figure
dated. Fast tier: reads files and introspects the CLI's parser and the Flask app, starts nothing."""
from __future__ import annotations

import argparse
import html
import re
from pathlib import Path

import pytest

from finsearch.cli import build_parser
from finsearch.webui import create_app

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
SOURCES = [REPO / package for package in ("analysis", "storage", "indexer", "search", "webui", "finsearch")]
MAX_README_LINES = 200

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)
_FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def _text(path: Path) -> str:
    return path.read_text("utf-8")


def _pages() -> list[Path]:
    return [README, REPO / "benchmarks" / "README.md", *sorted(DOCS.glob("*.md"))]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lower-cased, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"`|\*\*|\*", "", html.unescape(heading)).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for _, heading in _HEADING.findall(_FENCE.sub("", _text(path))):
        slug = _slug(heading)
        number, candidate = 0, slug
        while candidate in found:  # GitHub numbers repeated headings: x, x-1, x-2
            number += 1
            candidate = f"{slug}-{number}"
        found.add(candidate)
    return found


def _sections(path: Path, level: str) -> dict[str, str]:
    """The body of each heading of exactly this level (up to the next heading of it or above)."""
    text = _FENCE.sub(lambda fence: re.sub(r"(?m)^#", " ", fence.group()), _text(path))  # a shell comment is no heading
    marks = [(m.start(), m.end(), len(m.group(1)), m.group(2)) for m in _HEADING.finditer(text)
             if len(m.group(1)) <= len(level)]
    out = {}
    for number, (_, end, depth, title) in enumerate(marks):
        stop = marks[number + 1][0] if number + 1 < len(marks) else len(text)
        if depth == len(level):
            out[title] = text[end:stop]
    return out


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_readme_is_short():
    lines = _text(README).count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move detail to docs/ (at most {MAX_README_LINES})"


def test_the_readme_links_every_docs_page_and_shows_the_screenshot():
    readme = _text(README)
    linked = {target for target in _LINK.findall(readme)}
    for page in sorted(DOCS.glob("*.md")):
        assert f"docs/{page.name}" in linked, f"README.md does not link docs/{page.name}"
    assert "docs/screenshot.png" in linked and (DOCS / "screenshot.png").is_file()


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_and_anchor_resolves(page: Path):
    for target in _LINK.findall(_FENCE.sub("", _text(page))):
        if re.match(r"[a-z]+:", target):  # http:, mailto: …: not ours to check here
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: link to {target}: no such file"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{page.name}: link to {target}: no such heading in {resolved.name}"


def test_the_package_that_owns_the_index_on_disk_is_named():
    assert "`finsearch.storage`" in _text(README)
    assert "`storage/` (`finsearch.storage`)" in _text(DOCS / "architecture.md")


def test_every_command_and_option_is_in_cli_md():
    sections = _sections(DOCS / "cli.md", "##")
    common = sections["Common to every command"]  # --index, said once for all
    for name, parser in _subcommands().items():
        section = sections.get(f"finsearch {name}")
        assert section is not None, f"docs/cli.md has no section `## finsearch {name}`"
        section += common
        for action in parser._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert f"`{option}" in section, f"docs/cli.md, finsearch {name}: `{option}` is not described"
            if not action.option_strings:
                assert f"`{action.dest}`" in section, f"docs/cli.md, finsearch {name}: `{action.dest}` is not described"
    assert "`-v`" in _text(DOCS / "cli.md")


def test_every_exit_code_is_in_cli_md():
    from finsearch import cli
    codes = {value for name, value in vars(cli).items() if name.startswith("EXIT_") and isinstance(value, int)}
    table = _sections(DOCS / "cli.md", "###")["Exit codes"]
    for code in codes:
        assert re.search(rf"^\| {code} \|", table, re.M), f"docs/cli.md: exit code {code} is not in the table"


def test_every_route_is_in_api_md():
    api = _text(DOCS / "api.md")
    app = create_app(REPO / "build" / "no-index-here", TESTING=True)
    for rule in app.url_map.iter_rules():
        # /api/articles/<article_id> may be written /api/articles/<id> (or &lt;id&gt;)
        pattern = "".join(r"(?:<[^>]+>|&lt;[^&]+&gt;)" if part.startswith("<") else re.escape(part)
                          for part in re.split(r"(<[^>]+>)", rule.rule))
        assert re.search(rf"`(?:GET )?{pattern}[`?]", api), f"docs/api.md does not document {rule.rule}"


def _source_text() -> str:
    return "\n".join(_text(path) for folder in SOURCES for path in sorted(folder.glob("*.py")))


def test_every_api_error_code_is_in_api_md():
    source = "\n".join(_text(path) for folder in (REPO / "search", REPO / "webui") for path in folder.glob("*.py"))
    raised = set(re.findall(r'SearchError\(\s*"([a-z_]+)"', source))
    codes = raised | set(re.findall(r'code="([a-z_]+)"', source)) | set(re.findall(r'_CODE = "([a-z_]+)"', source))
    assert raised, "no error codes found: has the way they are written changed?"
    api = _text(DOCS / "api.md")
    for code in sorted(codes):
        assert f"`{code}`" in api, f"docs/api.md does not list the error code {code}"
    from finsearch.messages import MESSAGES
    assert not raised - set(MESSAGES), f"codes people would read no message for: {sorted(raised - set(MESSAGES))}"


def test_every_code_a_result_carries_has_words_and_is_in_api_md():
    """A result says as codes how it read a query (search.Notice) and why it suggests another
    (search.Reason); people read the words finsearch/messages.py gives each, programs the code,
    listed in api.md."""
    from finsearch.messages import NOTICES, REASONS
    from finsearch.search import Notice, Reason
    api = _text(DOCS / "api.md")
    for codes, words in ((Notice, NOTICES), (Reason, REASONS)):
        for code in codes:
            assert words.get(code), f"finsearch/messages.py has no words for the code {code.value}"
            assert f"`{code.value}`" in api, f"docs/api.md does not list the code {code.value}"


def test_every_coverage_gap_has_words():
    """A chart says what the archive lacks of a period (search.coverage.Gap; the JSON gives the
    days instead): each gap needs the words finsearch/messages.py shows for it."""
    from finsearch.messages import COVERAGE_NOTES
    from finsearch.search.coverage import Gap
    assert not set(Gap) - set(COVERAGE_NOTES), f"gaps without words: {sorted(set(Gap) - set(COVERAGE_NOTES))}"


def test_every_run_outcome_code_is_in_cli_md():
    source = _text(REPO / "indexer" / "guard.py") + _text(REPO / "indexer" / "replicate.py")
    codes = (set(re.findall(r'RunRefused\(\s*"([a-z-]+)"', source)) | set(re.findall(r'code = "([a-z-]+)"', source))
             | set(re.findall(r'_verified\([^,]+,\s*"([a-z-]+)"', source)))
    assert len(codes) > 5, "no outcome codes found: has the way they are written changed?"
    cli_md = _text(DOCS / "cli.md")
    for code in sorted(codes):
        assert f"`{code}`" in cli_md, f"docs/cli.md does not list the run outcome code {code}"


def test_every_environment_variable_is_in_operations_md():
    source = _source_text()
    names = set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', source)) | set(re.findall(r'_ENV = "([A-Z_]+)"', source))
    assert {"FINSEARCH_INDEX", "FINSEARCH_CACHE"} <= names
    operations = _text(DOCS / "operations.md")
    for name in sorted(names):
        assert f"`{name}" in operations, f"docs/operations.md does not describe ${name}"


def test_every_benchmark_figure_says_when_on_what_and_how():
    sections = _sections(DOCS / "benchmarks.md", "##") | _sections(DOCS / "benchmarks.md", "###")
    checked = 0
    for title, body in sections.items():
        own = _HEADING.split(body)[0]  # up to its first subsection
        if title == "The benchmark commands" or not re.search(r"\d", own):
            continue
        checked += 1
        assert re.search(r"\b2026-\d\d-\d\d\b|\bsession \d+", own), f"docs/benchmarks.md, {title}: no date"
        assert re.search(r"\b[0-9a-f]{7}\b", own), f"docs/benchmarks.md, {title}: no commit"
        assert re.search(r"benchmarks\.\w+|finsearch \w+", own), f"docs/benchmarks.md, {title}: no command"
    assert checked >= 10


def test_benchmark_records_and_methods_link_both_ways():
    assert "../benchmarks/README.md" in _text(DOCS / "benchmarks.md")
    assert "../docs/benchmarks.md" in _text(REPO / "benchmarks" / "README.md")
