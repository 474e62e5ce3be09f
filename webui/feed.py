"""Atom 1.0 feeds of searches ("订阅"): the newest posts of a search, for a feed reader.

Entry ids are tag: URIs of the article id, which the indexer derives from the post, so they are
the same after any reindex and a reader never shows an entry twice. Feeds are cached per index
version: a reader polling every few minutes costs one dictionary lookup until the index changes.
"""
from __future__ import annotations

import hashlib
import threading
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from finsearch.search import SearchResult

ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
ATOM_MIMETYPE = "application/atom+xml"
FEED_ENTRIES = 50
TAG_AUTHORITY = "finsearch,2026"  # RFC 4151: a name we use and the year we started using it
FEED_AUTHOR = "财经新闻检索"  # entries without a paper fall back to the feed's author
FEED_CACHE_SIZE = 256


def entry_id(article_id: str) -> str:
    return f"tag:{TAG_AUTHORITY}:article/{article_id}"


def feed_id(query_string: str) -> str:
    return f"tag:{TAG_AUTHORITY}:search?{query_string}"


@dataclass(frozen=True)
class FeedLinks:
    """Absolute URLs: the feed itself, the search page, an article page by id, a category's label."""

    self_href: str
    search_href: str
    article_href: Callable[[str], str]
    category_label: Callable[[str], str]


@dataclass(frozen=True)
class Feed:
    body: bytes
    etag: str


def build(result: SearchResult, title: str, query_string: str, links: FeedLinks,
          fallback_updated: str) -> Feed:
    """The feed of `result`'s hits (already newest first); `fallback_updated` (RFC 3339) dates
    a feed with no entries."""
    feed = ET.Element("feed", xmlns=ATOM_NAMESPACE)
    feed.set("xml:lang", "zh-CN")
    ET.SubElement(feed, "id").text = feed_id(query_string)
    ET.SubElement(feed, "title").text = title
    updated = max((hit.date for hit in result.hits), default=None)
    ET.SubElement(feed, "updated").text = updated.isoformat() if updated else fallback_updated
    ET.SubElement(feed, "link", rel="self", type=ATOM_MIMETYPE, href=links.self_href)
    ET.SubElement(feed, "link", rel="alternate", type="text/html", href=links.search_href)
    ET.SubElement(ET.SubElement(feed, "author"), "name").text = FEED_AUTHOR
    ET.SubElement(feed, "generator").text = "finsearch"
    for hit in result.hits:
        entry = ET.SubElement(feed, "entry")
        ET.SubElement(entry, "id").text = entry_id(hit.id)
        ET.SubElement(entry, "title").text = hit.headline or "（无标题）"
        ET.SubElement(entry, "link", rel="alternate", type="text/html", href=links.article_href(hit.id))
        ET.SubElement(entry, "published").text = hit.date.isoformat()
        ET.SubElement(entry, "updated").text = hit.date.isoformat()
        if hit.paper:
            ET.SubElement(ET.SubElement(entry, "author"), "name").text = hit.paper
        for category in hit.categories:
            ET.SubElement(entry, "category", term=category, label=links.category_label(category))
        ET.SubElement(entry, "summary", type="html").text = hit.snippet  # escaped HTML, escaped again as XML
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Feed(body, hashlib.blake2b(body, digest_size=12).hexdigest())


class FeedCache:
    """The last feeds built, by (index version, search, site root): an index change is a new key."""

    def __init__(self, size: int = FEED_CACHE_SIZE):
        self.size = size
        self._feeds: OrderedDict[tuple, Feed] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, make: Callable[[], Feed]) -> Feed:
        with self._lock:
            if key in self._feeds:
                self._feeds.move_to_end(key)
                return self._feeds[key]
        feed = make()
        with self._lock:
            self._feeds[key] = feed
            while len(self._feeds) > self.size:
                self._feeds.popitem(last=False)
        return feed
