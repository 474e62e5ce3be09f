"""Zero results help: when nothing matches, offer queries near it that do, as links."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from finsearch.search import Reason, SearchRequest


def articles(engine, query: str, **options) -> int:
    return engine.search(SearchRequest(query=query, **options)).articles


def test_a_word_that_matches_nothing_is_dropped(engine):
    result = engine.search(SearchRequest(query="美联储 喵星人"))
    assert result.total == 0
    first = result.suggestions[0]
    assert (first.query, first.reason, first.words) == ("美联储", Reason.DROPPED, ("喵星人",))
    assert first.articles == articles(engine, "美联储") > 0


def test_words_that_match_apart_suggest_each_without_the_other(engine):
    assert articles(engine, "美联储") and articles(engine, "江丰电子")
    result = engine.search(SearchRequest(query="美联储 江丰电子"))
    assert result.total == 0
    assert {s.query for s in result.suggestions} == {"美联储", "江丰电子"}


def test_a_long_term_suggests_its_longest_run_that_matches(engine):
    query = "美联储降息预期彻底落空"
    result = engine.search(SearchRequest(query=query))
    assert result.total == 0
    suggestion = result.suggestions[0]
    assert suggestion.query in query and len(suggestion.query) < len(query)
    assert suggestion.articles == articles(engine, suggestion.query) > 0
    # No longer run of the query's words finds anything.
    longer = [query[i:j] for i in range(len(query)) for j in range(i + len(suggestion.query) + 1, len(query) + 1)
              if (i, j) != (0, len(query))]
    assert all(articles(engine, run) == 0 for run in longer)


def test_a_literal_query_suggests_the_alias_that_finds_most(engine):
    result = engine.search(SearchRequest(query="国家发展和改革委员会", literal=True))
    assert result.total == 0
    alias = next(s for s in result.suggestions if s.reason is Reason.ALIAS)
    assert alias.query == "国家发展改革委" and alias.literal
    assert alias.words == ("国家发展和改革委员会", "国家发展改革委")
    assert alias.articles == articles(engine, "国家发展改革委", literal=True) > 0


def test_suggestions_count_under_the_same_filters(engine):
    day = dt.date(2026, 7, 15)
    result = engine.search(SearchRequest(query="美联储 喵星人", date_from=day, date_to=day))
    assert result.suggestions[0].articles == articles(engine, "美联储", date_from=day, date_to=day)
    assert result.suggestions[0].articles < articles(engine, "美联储")


def test_a_long_term_under_a_category_suggests_what_the_search_under_it_finds(engine):
    category = engine.stats().categories[0].value
    result = engine.search(SearchRequest(query="美联储降息预期彻底落空", categories=(category,)))
    assert result.total == 0 and result.suggestions
    for suggestion in result.suggestions:
        assert suggestion.articles == articles(engine, suggestion.query, categories=(category,)) > 0


def test_no_suggestions_when_something_matches_or_for_operators(engine):
    assert engine.search(SearchRequest(query="美联储")).suggestions == ()
    assert engine.search(SearchRequest(query="美联储 -美联储")).suggestions == ()


def test_page_links_and_api_list_the_suggestions(client, engine):
    html = client.get("/?q=美联储+喵星人&category=cailianshe").get_data(as_text=True)
    assert 'id="suggestions"' in html
    href = html.split('class="try-query" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert parse_qs(urlsplit(href).query) == {"q": ["美联储"], "category": ["cailianshe"]}
    assert client.get(href).status_code == 200
    assert '>美联储</a><span class="muted">（去掉「喵星人」，' in html
    data = client.get("/api/search?q=美联储+喵星人").get_json()
    assert data["suggestions"][0] == {"query": "美联储", "literal": False, "articles": articles(engine, "美联储"),
                                      "reason": "去掉「喵星人」", "reason_code": "dropped"}
    assert client.get("/api/search?q=美联储").get_json()["suggestions"] == []


# The words people read of each reason (a spelling correction's: test_newsroom), on the page, in the JSON and
# from the CLI.
@pytest.mark.parametrize("query, literal, reason, code", [
    ("美联储 喵星人", False, "去掉「喵星人」", "dropped"),
    ("美联储降息预期彻底落空", False, "较短的「{query}」", "shorter"),
    ("国家发展和改革委员会", True, "「国家发展和改革委员会」的别名「国家发展改革委」", "alias"),
])
def test_each_reason_reads_the_same_on_the_page_in_the_api_and_the_cli(client, cli, index_dir, query, literal,
                                                                        reason, code):
    flag = "&literal=1" if literal else ""
    data = client.get(f"/api/search?q={query}{flag}").get_json()
    offered = next(s for s in data["suggestions"] if s["reason_code"] == code)
    words = reason.format(query=offered["query"])
    assert offered["reason"] == words
    html = client.get(f"/?q={query}{flag}").get_data(as_text=True)
    assert f'>{offered["query"]}</a><span class="muted">（{words}，{offered["articles"]:,} 篇）' in html
    done = cli("search", query, "--index", index_dir, *(["--literal"] if literal else []))
    assert f"{offered['query']}（{words}，{offered['articles']} 篇）" in done.stdout
