"""The stock names the archive pairs with codes (贵州茅台（600519）), stored with each build.

`stock_names.json` in the build directory holds, per post path, the (name, code)
pairs the post writes, and the index generation it describes. A full build
writes it before the build is published; the nightly reindex updates it per
changed path and writes it before its commit, stamped with the generation that
commit makes. A stamp that differs from the index's (a run killed before its
commit, an index built before this file existed) makes the next reindex
recompute it from the stored titles and bodies.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from finsearch.analysis.aliases import learned_pairs, stock_mentions
from finsearch.storage.schema import BODY, PATH, TITLE

log = logging.getLogger(__name__)

FILE = "stock_names.json"
Mentions = dict[str, list[tuple[str, str]]]  # post path -> its (name, code) pairs


def write(build: Path, generation: int, mentions: Mentions) -> None:
    """Replace the file in one rename, so a reader sees the old or the new one."""
    tmp = build / f".{FILE}.{os.getpid()}"
    # The pairs learned from them too: every reader of the generation needs those, not the mentions.
    learned = learned_pairs(pair for post_pairs in mentions.values() for pair in post_pairs)
    data = {"generation": generation, "pairs": learned,
            "posts": {path: pairs for path, pairs in sorted(mentions.items()) if pairs}}
    tmp.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    os.replace(tmp, build / FILE)


def read(build: Path) -> tuple[int | None, Mentions]:
    """The generation the file describes and its mentions; (None, {}) if absent or unreadable."""
    try:
        data = json.loads((build / FILE).read_text("utf-8"))
        return int(data["generation"]), {path: [tuple(pair) for pair in pairs]
                                         for path, pairs in data["posts"].items()}
    except FileNotFoundError:
        return None, {}
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("unreadable %s in %s (%s: %s); stock codes are not searched by name until the next reindex",
                    FILE, build, type(error).__name__, error)
        return None, {}


def current(ix) -> Mentions:
    """The mentions of the index `ix` as it stands: read, or recomputed from the stored
    titles and bodies if the file does not describe this generation (a published generation
    never changes: the next one written gets the recomputed file)."""
    build = Path(ix.storage.folder)
    generation, mentions = read(build)
    if generation == ix.latest_generation():
        return mentions
    log.info("recomputing %s from the stored posts of %s", FILE, build)
    mentions = {}
    with ix.reader() as reader:
        for docnum in reader.all_doc_ids():
            fields = reader.stored_fields(docnum)
            pairs = sorted(stock_mentions(fields.get(TITLE, "") + "\n" + fields.get(BODY, "")))
            if pairs:
                mentions[fields[PATH]] = pairs
    return mentions


def pairs(build: Path) -> list[tuple[str, str]]:
    """The (name, code) pairs to search by, learned from every post of the build: as written with
    the file, else (a file written before it held them) learned now."""
    try:
        written = json.loads((build / FILE).read_text("utf-8")).get("pairs")
    except (OSError, ValueError, AttributeError):
        written = None
    if isinstance(written, list):
        return [(name, code) for name, code in written]
    _, mentions = read(build)
    return learned_pairs(pair for post_pairs in mentions.values() for pair in post_pairs)
