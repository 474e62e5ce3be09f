"""The page size and page limits, as the web page, the JSON API and the CLI each state them."""
from __future__ import annotations

import re

from finsearch.search import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE


def test_the_limits_are_the_documented_ones():
    # README: `page` counts from 1 (at most 1000); `size` is 1 to 100, 10 by default.
    assert (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_PAGE) == (10, 100, 1000)


def test_api_answers_up_to_the_limits_and_refuses_past_them(client):
    data = client.get(f"/api/search?size={MAX_PAGE_SIZE}").get_json()
    assert (data["size"], len(data["hits"])) == (MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    assert client.get("/api/search").get_json()["size"] == DEFAULT_PAGE_SIZE
    assert client.get(f"/api/search?page={MAX_PAGE}").status_code == 200
    for query, message, code, param in (
            (f"size={MAX_PAGE_SIZE + 1}", f"每页条数应在 1 到 {MAX_PAGE_SIZE} 之间", "size_out_of_range", "size"),
            (f"page={MAX_PAGE + 1}", f"页码应在 1 到 {MAX_PAGE} 之间", "page_out_of_range", "page")):
        response = client.get(f"/api/search?{query}")
        assert (response.status_code, response.get_json()) == (400, {"error": message, "code": code, "param": param})


def test_the_search_form_keeps_a_chosen_size_and_sort_but_not_the_defaults(client):
    chosen = client.get("/?q=金融&size=20&sort=newest").get_data(as_text=True)
    assert '<input type="hidden" name="size" value="20">' in chosen
    assert '<input type="hidden" name="sort" value="newest">' in chosen
    default = client.get(f"/?q=金融&size={DEFAULT_PAGE_SIZE}&sort=relevance").get_data(as_text=True)
    assert not re.search(r'<input type="hidden" name="(size|sort)"', default)
    # A link to the next page leaves the default size out of the URL, as a typed URL would.
    assert 'href="/?q=%E9%87%91%E8%9E%8D&amp;page=2"' in default


def test_cli_help_states_the_limits(cli):
    done = cli("search", "--help")
    assert done.returncode == 0
    help_text = " ".join(done.stdout.split())
    assert f"hits per page, 1-{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})" in help_text
    assert f"page number, 1-{MAX_PAGE} (default 1)" in help_text
