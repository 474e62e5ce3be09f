"""The weights of search.rescore, fitted to the graded judgments of the dev topics (issue 25).

    .venv/bin/python -m benchmarks.fit_rescore INDEX_DIR          # prints the weights, dev and test fit

For each topic, the engine's collected order (tiers and BM25F, one post per story) without the
rescoring stage; each of its first RESCORE_DEPTH stories that an assessor graded gives one row:
its features (search.rescore.features) and its grade. A ridge least-squares fit of the grade on
the features over the `dev` topics gives weights for search.rescore.WEIGHTS (rounded by hand
there); the same fit over the `test` topics is printed beside it, to see which weights hold on
topics they were not fitted to. The features are scaled to about 0..1, so the weights compare.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from benchmarks.ranking_eval import QRELS, TOPICS, read_qrels, read_topics
from finsearch import storage
from finsearch.search import SearchEngine, make_request, rescore
from finsearch.search.collect import first_of_each_story, leading
from finsearch.search.matching import match, tiers

RIDGE = 1.0  # keeps a weight of a rarely seen feature small


def rows(engine: SearchEngine, query: str, judgments: dict) -> list[tuple[list[float], int]]:
    """(features, grade) of the graded stories among the first RESCORE_DEPTH of the collected order."""
    request = make_request(query, size=rescore.RESCORE_DEPTH)
    found = []
    with engine.snapshot() as snap:
        matched = match(snap, request, scored=True)
        docs, scores = matched.kept, matched.kept_scores
        ranks = tiers(snap, matched.parsed, docs, request.sort)
        selected, selected_scores, selected_tiers = first_of_each_story(snap.table, docs, scores, ranks)
        ranked = leading(snap.table, selected, selected_scores, selected_tiers, request.sort, rescore.RESCORE_DEPTH)
        words = rescore.typed_words(matched.parsed.terms, matched.parsed.expanded)
        with snap.lock:
            for rank, docnum in enumerate(ranked.tolist()):
                fields = snap.searcher.stored_fields(docnum)
                judgment = judgments.get(fields[storage.ID_FIELD])
                if judgment is not None:
                    features = rescore.features(fields.get(storage.TITLE, ""), fields.get(storage.BODY, ""), words, rank,
                                                rescore.homely_words(words))
                    found.append(([getattr(features, name) for name in rescore.WEIGHTS], judgment.grade))
    return found


def fit(data: list[tuple[list[float], int]]) -> np.ndarray:
    x = np.asarray([features + [1.0] for features, _ in data])
    y = np.asarray([grade for _, grade in data], dtype=float)
    return np.linalg.solve(x.T @ x + RIDGE * np.eye(x.shape[1]), x.T @ y)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("index", type=Path, help="the engine's index of the wire archive (the folder holding `current`)")
    ap.add_argument("--topics", type=Path, default=TOPICS)
    ap.add_argument("--qrels", type=Path, default=QRELS)
    args = ap.parse_args(argv)
    topics, qrels = read_topics(args.topics), read_qrels(args.qrels)
    engine = SearchEngine(args.index, match_cache=0)
    by_split: dict[str, list] = {"dev": [], "test": []}
    for topic in topics:
        by_split[topic.split] += rows(engine, topic.query, qrels.get(topic.id, {}))
    weights = {split: fit(data) for split, data in by_split.items()}
    print(f"{'feature':<12}{'dev':>8}{'test':>8}{'now':>8}   ({len(by_split['dev'])} dev rows, "
          f"{len(by_split['test'])} test rows)")
    for i, name in enumerate([*rescore.WEIGHTS, "(constant)"]):
        print(f"{name:<12}{weights['dev'][i]:>8.2f}{weights['test'][i]:>8.2f}{rescore.WEIGHTS.get(name, 0):>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
