"""Companies as a facet (issue 27): the 股票 facet and the `stock=` filter, in the web page, the JSON API
and the CLI, on the real posts of data/posts, against the posts that write a company's name or code."""
from __future__ import annotations

import json
import re

import pytest

MOUTAI = "600519"  # 贵州茅台: the shipped table's; no post of data/posts writes the code, two write the name
LISTED_CODE = re.compile(r"(?:00|30|60|68|43|83|87|88|92)\d{4}")


def _json(response, status=200):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_json()


def _all_hits(client, query: str) -> set[str]:
    """The ids of every post the API search finds (reprints included)."""
    found, page = set(), 1
    while True:
        data = _json(client.get(f"{query}&size=100&page={page}"))
        for hit in data["hits"]:
            found |= {hit["id"], *(r["id"] for r in hit["reprints"])}
        if page >= data["pages"]:
            return found
        page += 1


def _written(text: str, word: str) -> bool:
    """Whether `text` writes `word` as the search reads it: a code as a whole number (not inside
    600519.5 or 1600519), a Chinese name literally, spaces between its characters allowed."""
    if word.isdigit():
        return re.search(rf"(?<![\d.]){word}(?!\.?\d)", text) is not None
    return re.search(r"\s*".join(map(re.escape, word)), text) is not None


@pytest.fixture(scope="module")
def names(engine) -> dict[str, tuple[str, ...]]:
    """Each listed company's names, the shipped table's and those the sample's posts write with its code."""
    with engine.snapshot() as snap:
        return {code: company.names for code, company in snap.companies.by_code.items()}


def _mentioning(posts, code: str, names: dict[str, tuple[str, ...]]) -> set[str]:
    """The posts that write the code or a name of the company; a name that is part of another company's
    (仁科技 of 利仁科技) only where that longer name is not written."""
    longer = {name: [other for other_code, others in names.items() if other_code != code
                     for other in others if name in other] for name in names[code]}

    def mentions(text: str) -> bool:
        return _written(text, code) or any(_written(text, name) and not any(_written(text, o) for o in longer[name])
                                           for name in names[code])
    return {p.id for p in posts if mentions(p.title + "\n" + "\n".join(p.paragraphs))}


def test_stock_filter_keeps_the_posts_that_name_the_company_or_write_its_code(client, archive_posts, names):
    expected = _mentioning(archive_posts, MOUTAI, names)
    assert len(expected) == 2  # 贵州茅台, by name: no post writes 600519
    assert _all_hits(client, f"/api/search?stock={MOUTAI}") == expected
    assert _all_hits(client, f"/api/search?q={MOUTAI}") == expected  # the filter is what the code's search finds
    data = _json(client.get(f"/api/search?stock={MOUTAI}&q=茅台酒"))
    assert data["stock"] == [MOUTAI] and data["articles"] == 1


def test_stock_filter_on_a_company_many_posts_name(client, archive_posts, names):
    code = "300750"  # 宁德时代
    expected = _mentioning(archive_posts, code, names)
    assert len(expected) > 10
    assert _all_hits(client, f"/api/search?stock={code}") == expected
    both = _mentioning(archive_posts, MOUTAI, names) | expected
    assert _all_hits(client, f"/api/search?stock={code}&stock={MOUTAI}") == both  # several: any of them


def test_stock_facet_counts_the_posts_that_mention_each_company(client, archive_posts, names):
    data = _json(client.get("/api/search?q=涨停&paper=财联社"))
    stocks = data["facets"]["stock"]
    assert 10 <= len(stocks) <= 30 and all(LISTED_CODE.fullmatch(f["value"]) for f in stocks)
    counts = [f["count"] for f in stocks]
    assert counts == sorted(counts, reverse=True) and counts[-1] >= 1
    # Under the other filters: the query and the paper.
    found = _all_hits(client, "/api/search?q=涨停&paper=财联社")
    matching = [p for p in archive_posts if p.id in found]
    for facet in stocks:
        assert facet["name"] in names[facet["value"]]
        assert facet["count"] == len(_mentioning(matching, facet["value"], names)), facet


def test_the_facet_count_of_a_picked_company_is_the_filtered_total(client):
    data = _json(client.get(f"/api/search?stock={MOUTAI}"))
    assert data["articles"] == 2
    assert {"value": MOUTAI, "count": 2, "name": "贵州茅台"} in data["facets"]["stock"]


def test_stock_facet_is_counted_under_the_other_filters_not_its_own(client):
    plain = _json(client.get("/api/search?q=涨停"))
    picked = plain["facets"]["stock"][0]
    narrowed = _json(client.get(f"/api/search?q=涨停&stock={picked['value']}"))
    assert narrowed["articles"] == picked["count"]
    assert narrowed["facets"]["stock"] == plain["facets"]["stock"]  # pick another: either of them
    assert sum(f["count"] for f in narrowed["facets"]["paper"]) == picked["count"]  # the papers of its posts only
    by_paper = _json(client.get(f"/api/search?q=涨停&paper={narrowed['facets']['paper'][0]['value']}"))
    assert by_paper["facets"]["stock"] != plain["facets"]["stock"]


def test_a_name_inside_another_companys_name_does_not_take_its_posts(client, archive_posts, names):
    """One post of data/posts names 利仁科技 (001259); the shipped table calls 300550 仁科技."""
    assert "仁科技" in names["300550"] and "利仁科技" in names["001259"]
    assert _all_hits(client, "/api/search?stock=001259") == _mentioning(archive_posts, "001259", names) != set()
    assert _json(client.get("/api/search?stock=300550"))["articles"] == 0
    listed = [f["value"] for f in _json(client.get("/api/search?q=利仁科技"))["facets"]["stock"]]
    assert "001259" in listed and "300550" not in listed
    # A cut name the archive never confirmed is no company's: 新能源 (of 立新能源, 国新能源) would take every post on it.
    assert not any("新能源" in company for company in names.values())


def test_funds_are_not_companies(client):
    """The sample's posts write 证券ETF（512880）: the archive pairs them, the facet leaves the fund out."""
    fund = _json(client.get("/api/search?q=512880"))
    assert fund["expanded"] == [{"term": "512880", "aliases": ["证券ETF"]}] and fund["articles"] > 0
    stocks = _json(client.get("/api/search?q=ETF"))["facets"]["stock"]  # its posts among them
    assert stocks and all(LISTED_CODE.fullmatch(f["value"]) for f in stocks)


def test_a_picked_company_stays_in_the_facet_with_its_name(client):
    data = _json(client.get(f"/api/search?q=降息&stock={MOUTAI}"))
    assert data["articles"] == 0
    assert {"value": MOUTAI, "count": 0, "name": "贵州茅台"} in data["facets"]["stock"]


def test_a_stock_that_is_no_code_is_refused(client, cli, index_dir):
    assert _json(client.get("/api/search?stock=茅台"), 400) == {
        "error": "股票代码应为 6 位数字：茅台", "code": "bad_stock", "param": "stock"}
    assert _json(client.get("/api/search?stock=６００５１９"))["stock"] == [MOUTAI]  # full-width digits fold
    done = cli("search", "--stock", "60051", "--index", index_dir)
    assert done.returncode == 2 and done.stderr == "finsearch: 股票代码应为 6 位数字：60051\n"
    page = client.get("/?q=白酒&stock=茅台")
    assert page.status_code == 400 and "股票代码应为 6 位数字：茅台" in page.get_data(as_text=True)


def test_the_page_lists_companies_and_shows_the_pick_as_a_chip(client):
    html = client.get("/?q=涨停").get_data(as_text=True)
    section = re.search(r'<section class="filter-group" aria-labelledby="facet-stock">.*?</section>', html, re.S)
    assert section and "<h2 id=\"facet-stock\">股票</h2>" in section.group(0)
    first = re.search(r'href="([^"]*stock=(\d{6})[^"]*)"\s+title="只看：([^"]+)"', section.group(0))
    assert first, section.group(0)[:800]
    href, code, name = first.group(1).replace("&amp;", "&"), first.group(2), first.group(3)
    assert f'{name} <span class="facet-hint">{code}</span>' in section.group(0)
    picked = client.get(href).get_data(as_text=True)
    assert f"股票：{name} {code}" in picked  # the chip, which removes it
    assert 'class="facet-link is-selected"' in picked and f'name="stock" value="{code}"' in picked  # kept by forms


def test_cli_stock_filter_and_facet(cli, client, index_dir, tmp_path):
    done = cli("search", "--stock", "300750", "--index", index_dir, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result.pop("related")["hits"] == []  # every post (no query): no related coverage
    assert result == {**_json(client.get("/api/search?stock=300750")), "took_ms": result["took_ms"]}
    assert {"value": "300750", "count": result["articles"], "name": "宁德时代"} in result["facets"]["stock"]
    text = cli("search", "储能", "--stock", "300750", "--index", index_dir)
    assert text.returncode == 0 and "宁德时代" in text.stdout
    out = tmp_path / "moutai.csv"
    exported = cli("export", "--stock", MOUTAI, "--index", index_dir, "--output", out)
    assert exported.returncode == 0, exported.stderr
    assert len(out.read_text("utf-8").lstrip("\ufeff").splitlines()) == 1 + 2


def test_exports_and_feeds_keep_the_stock_filter(client):
    rows = client.get(f"/export.csv?stock={MOUTAI}").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert len(rows) == 1 + 2
    feed = client.get(f"/feed.atom?stock={MOUTAI}").get_data(as_text=True)
    assert feed.count("<entry>") == 2 and "股票：600519" in feed

