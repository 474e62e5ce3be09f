"""How a Post becomes an index document, and the stock names it mentions."""
from __future__ import annotations

from finsearch.analysis.aliases import stock_mentions
from finsearch.analysis.near_duplicates import signature, story_key, title_key
from finsearch.indexer.ingest import Post
from finsearch.storage import (
    BODY,
    BODY_GRAM,
    CATEGORY,
    CHECKSUM,
    DATE,
    FILE_STAT,
    FILE_STAT_FORMAT,
    ID_FIELD,
    PAPER,
    PATH,
    SIGNATURE,
    STORY,
    TAGS,
    TITLE,
    TITLE_GRAM,
    TITLE_KEY,
    UNKNOWN_FILE_STAT,
    URL,
    local_naive,
)


def to_document(post: Post) -> dict:
    body = "\n".join(post.paragraphs)
    return {
        ID_FIELD: post.id,
        TITLE: post.title,
        BODY: body,
        TITLE_GRAM: post.title,
        BODY_GRAM: body,
        DATE: local_naive(post.published),
        CATEGORY: ",".join(post.categories),
        PAPER: post.paper,
        TAGS: ",".join(post.tags),
        URL: post.url,
        PATH: post.path,
        CHECKSUM: post.checksum,
        STORY: story_key(post.title, body),
        SIGNATURE: signature(post.title, body),
        TITLE_KEY: title_key(post.title),
        FILE_STAT: UNKNOWN_FILE_STAT if post.stat is None else FILE_STAT_FORMAT.pack(*post.stat),
    }


def stock_names_of(post: Post) -> list[tuple[str, str]]:
    """The (name, code) pairs the post writes (贵州茅台（600519）)."""
    return sorted(stock_mentions(post.title + "\n" + "\n".join(post.paragraphs)))
