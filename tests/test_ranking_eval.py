"""The graded ranking evaluation's arithmetic (benchmarks/ranking_eval.py), on lists made by hand.

No index and no archive: the metrics, the pooling and the grades' way into qrels.tsv.
"""
from __future__ import annotations

import math

import pytest

from benchmarks.ranking_eval import (
    BLIND_COLUMNS,
    JUDGE,
    KNOWN,
    Judgment,
    Topic,
    engine_from_spec,
    evaluate,
    gains,
    ideal_gains,
    ingest,
    ndcg,
    new_pool,
    out_for_grading,
    precision,
    read_qrels,
    repeats,
    split_into_files,
    unjudged,
    write_tsv,
)

# One topic's grades: a and b tell one story (x), the others a story each.
JUDGMENTS = {
    "a": Judgment(3, "x"),
    "b": Judgment(3, "x"),
    "c": Judgment(2, "y"),
    "d": Judgment(0, "z"),
    "e": Judgment(1, "w"),
    "f": Judgment(2, "v"),
}
# b first, its repeat a second, u never graded.
RANKED = ["b", "a", "d", "c", "u", "e"]


def test_a_repeated_story_gains_nothing_and_the_ideal_counts_each_story_once():
    assert gains(RANKED, JUDGMENTS) == [3, 0, 0, 2, 0, 1]
    # Ideal: x at 3, v and y at 2, w at 1, z at 0 (b adds no second 3).
    assert ideal_gains(JUDGMENTS) == [3, 2, 2, 1, 0]
    # By hand: DCG = 3/log2(2) + 2/log2(5) + 1/log2(7) = 3 + 0.86135 + 0.35621 = 4.21756;
    # IDCG = 3/log2(2) + 2/log2(3) + 2/log2(4) + 1/log2(5) = 3 + 1.26186 + 1 + 0.43068 = 5.69254.
    assert ndcg(RANKED, JUDGMENTS) == pytest.approx(4.21756 / 5.69254, abs=1e-5)
    assert ndcg(RANKED, JUDGMENTS) == pytest.approx(0.74089, abs=1e-5)
    # Had the repeat gained its 3, the list would score above the ideal (1.073): the rule matters.
    with_repeat = 3 + 3 / math.log2(3) + 2 / math.log2(5) + 1 / math.log2(7)
    assert with_repeat / 5.69254 > 1


def test_precision_repeats_and_unjudged():
    assert precision(RANKED, JUDGMENTS) == 0.2  # b and c; a is a repeat, the list is 6 long
    assert repeats(RANKED, JUDGMENTS) == 1
    assert unjudged(RANKED, JUDGMENTS) == 1


def test_unlabelled_posts_are_stories_of_their_own_and_nothing_relevant_gives_no_ndcg():
    judgments = {"a": Judgment(2, ""), "b": Judgment(2, "")}
    assert gains(["a", "b"], judgments) == [2, 2] and repeats(["a", "b"], judgments) == 0
    assert ndcg(["a"], {"a": Judgment(0, "s")}) is None
    assert ndcg(["b", "a"], {"a": Judgment(1, "s")}) == pytest.approx((1 / math.log2(3)) / 1)


def test_the_ratio_is_to_the_best_tantivy_system_of_each_split():
    topics = [Topic("T01", "dev", "q1", ""), Topic("T02", "test", "q2", "")]
    qrels = {"T01": {"a": Judgment(3, "s1"), "b": Judgment(1, "s2")}, "T02": {"c": Judgment(2, "s1")}}
    rankings = {
        "engine": {"T01": ["a", "b"], "T02": ["z"]},
        "tantivy-words-and": {"T01": ["b", "a"], "T02": ["c"]},
        "tantivy-bigrams-and": {"T01": ["b"], "T02": ["z", "c"]},
    }
    report = evaluate(rankings, topics, qrels)
    dev, test = report["ratio_to_best_tantivy"]["dev"], report["ratio_to_best_tantivy"]["test"]
    assert report["summary"]["engine"]["dev"]["ndcg"] == pytest.approx(1.0)
    assert dev["baseline"] == "tantivy-words-and"
    words_dev = (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    assert dev["engines"]["engine"]["ndcg"] == pytest.approx(1 / words_dev)
    assert test["baseline"] == "tantivy-words-and" and test["engines"]["engine"]["ndcg"] == 0.0
    assert report["summary"]["engine"]["all"]["unjudged"] == pytest.approx(1 / 3)


def test_before_any_grade_everything_shown_is_unjudged():
    topics = [Topic("T01", "dev", "q", "")]
    report = evaluate({"engine": {"T01": ["a", "b"]}}, topics, {})
    summary = report["summary"]["engine"]["all"]
    assert summary["unjudged"] == 1.0 and summary["ndcg"] is None and summary["precision"] is None
    assert report["ratio_to_best_tantivy"] == {}


def test_the_pool_leaves_out_what_is_graded_or_out_for_grading_and_hides_who_found_it():
    topics = [Topic("T01", "dev", "q", ""), Topic("T02", "test", "q", "")]
    rankings = {"one": {"T01": ["a", "b", "c"], "T02": ["g"]}, "two": {"T01": ["c", "d", "e"], "T02": ["g"]}}
    graded, sent = {"T01": {"a": Judgment(1, "")}}, {("T01", "e"), ("T02", "g")}
    pool = new_pool(rankings, topics, graded, sent, {"one": 3, "two": 3})
    assert sorted(pool["T01"]) == ["b", "c", "d"] and "T02" not in pool
    assert pool == new_pool(rankings, topics, graded, sent, {"one": 3, "two": 3})  # the same shuffle every time
    assert sorted(new_pool(rankings, topics, graded, sent, {"one": 3, "two": 1})["T01"]) == ["b", "c"]


def test_a_filled_file_in_the_short_form_counts_as_out_for_grading(tmp_path):
    # A round handed back as topic/post_id/grade/story beside its blind file: pooling again must not stop on it.
    write_tsv(tmp_path / "r1-01.tsv", BLIND_COLUMNS, [dict.fromkeys(BLIND_COLUMNS, "") | {"kind": JUDGE, "topic": "T01", "post_id": "a"}])
    write_tsv(tmp_path / "r1-01.graded.tsv", ("topic", "post_id", "grade", "story"),
              [{"topic": "T01", "post_id": "b", "grade": "2", "story": "s1"}])
    assert out_for_grading(tmp_path) == {("T01", "a"), ("T01", "b")}


def test_files_hold_whole_topics_under_the_limit():
    sizes = {"T01": 120, "T02": 100, "T03": 90, "T04": 60, "T05": 40}
    files = split_into_files(sizes, limit=250)
    assert sorted(t for f in files for t in f) == sorted(sizes)
    assert all(sum(sizes[t] for t in f) <= 250 for f in files) and len(files) == 2
    assert len(split_into_files(sizes, limit=250, files=4)) == 4


def test_ingest_appends_grades_and_keeps_story_labels_apart_between_files(tmp_path):
    topics = [Topic("T01", "dev", "q", "")]
    qrels = tmp_path / "qrels.tsv"

    def blind(name, rows):
        path = tmp_path / name
        write_tsv(path, BLIND_COLUMNS, [dict.fromkeys(BLIND_COLUMNS, "") | row for row in rows])
        return path

    first = blind("r1-01.tsv", [{"kind": JUDGE, "topic": "T01", "post_id": "a", "grade": "3", "story": "s1"},
                                {"kind": JUDGE, "topic": "T01", "post_id": "b", "grade": "2", "story": "s1"}])
    assert ingest([first], topics, qrels) == 2
    # A later round: c repeats a's story (label copied from the known row), d is new news labelled s1.
    later = blind("r2-01.tsv", [{"kind": KNOWN, "topic": "T01", "post_id": "a", "grade": "3", "story": "r1-01:s1"},
                                {"kind": JUDGE, "topic": "T01", "post_id": "c", "grade": "1", "story": "r1-01:s1"},
                                {"kind": JUDGE, "topic": "T01", "post_id": "d", "grade": "0", "story": "s1"}])
    assert ingest([later], topics, qrels) == 2
    grades = read_qrels(qrels)["T01"]
    assert grades == {"a": Judgment(3, "r1-01:s1"), "b": Judgment(2, "r1-01:s1"),
                      "c": Judgment(1, "r1-01:s1"), "d": Judgment(0, "r2-01:s1")}
    ungraded = blind("r3-01.tsv", [{"kind": JUDGE, "topic": "T01", "post_id": "e", "grade": ""}])
    with pytest.raises(SystemExit):
        ingest([ungraded], topics, qrels)


def test_a_candidate_can_pool_its_own_depth(tmp_path):
    blend = engine_from_spec("name=blend,sort=blend,pool=10", tmp_path)
    assert (blend.pool_depth, blend.options) == (10, {"sort": "blend"})
    assert engine_from_spec("name=mine", tmp_path).pool_depth is None
    with pytest.raises(SystemExit):
        engine_from_spec("name=blend,pool=3", tmp_path)
