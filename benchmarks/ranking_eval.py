"""Ranking quality, graded: TREC-style pooled judgments over the real wire archive (issue 25).

    .venv/bin/python -m benchmarks.ranking_eval --work /work/bench-work                # evaluate, print, write JSON
    .venv/bin/python -m benchmarks.ranking_eval --work /work/bench-work --pool-new     # blind files to grade
    .venv/bin/python -m benchmarks.ranking_eval --ingest benchmarks/ranking/blind/r1-01.tsv   # grades -> qrels.tsv
    .venv/bin/python -m benchmarks.ranking_eval --work /work/bench-work \\
        --engine name=blend,worktree=/work/wt-blend,sort=blend                        # a candidate beside today's

Topics (benchmarks/ranking/topics.tsv: id, split, query, need) are queries a reporter or analyst
types over the wire archive, each with a written information need, split once into `dev` (tune
on these) and `test` (check that it generalises). Every system gives a top 10 per topic:

- engine: this worktree's SearchEngine, relevance sort, page size 10, its hits as shown (one
  per story, reprints folded under the hit), then, when they do not fill the page, the related
  coverage the page shows under them (相关报道: posts with most of the query's words, not all);
  --engine adds candidates (another worktree's code
  and index, other request options), run by benchmarks/rank_engine.py with that worktree's Python;
- tantivy-words-and / -or: tantivy BM25 over jieba words (benchmarks/tantivy_peer.py's build),
  every query word required / any;
- tantivy-bigrams-and / -phrase: tantivy BM25 over CJK character bigrams and Latin/digit words,
  every bigram of the query required anywhere / each query word as a phrase of its bigrams.

Both tantivy variants of each index are pooled and judged, so the baseline is whichever is
stronger on the grades, not a guess: the ratio line divides by the best tantivy system of each
split. Indexes are built once into WORK/rank/ and reused.

--pool-new writes, per topic, the pooled posts (each tantivy system's top 10, each engine's top
ENGINE_POOL_DEPTH) that are neither graded (qrels.tsv) nor already out in a blind file, shuffled
with a fixed seed, system names hidden, into blind/rN-MM.tsv (whole topics per file, at most
MAX_FILE_POSTS rows); benchmarks/ranking/GUIDE.md tells the assessor what to fill in; --ingest
appends the filled files to qrels.tsv.

Metrics (per topic, averaged over the topics that have grades; see `ndcg` and friends):
nDCG@10 with linear gain and log2 discount, where a post whose story (the assessor's label)
already appeared higher gains nothing, against an ideal list of each story's best grade; P@10,
grade >= 2 and not a repeat; repeats per top 10; and the share of shown posts without a grade
(counted as grade 0 in the other metrics). Only the benchmarks read ../shared; without the
archive this stops with exit code 2.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.run import CORPORA, DEFAULT_SHARED, DEFAULT_WORK, ensure_corpus, environment

log = logging.getLogger("ranking_eval")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RANKING = HERE / "ranking"
TOPICS = RANKING / "topics.tsv"
QRELS = RANKING / "qrels.tsv"
BLIND = RANKING / "blind"
DEFAULT_RESULTS = HERE / "results"
RANK_ENGINE = HERE / "rank_engine.py"

DEPTH = 10
# An engine's hits pooled for grading: a candidate ranking mostly reorders the engine's own
# matches, so the posts just below today's first page are the likeliest to surface next.
ENGINE_POOL_DEPTH = 30
RELEVANT = 2  # P@10 counts grades 2 (relevant) and 3 (highly relevant)
GRADES = (0, 1, 2, 3)
SPLITS = ("dev", "test", "all")
POOL_SEED = 25  # the number: the shuffle of every blind file
MAX_FILE_POSTS = 250
TEXT_CHARS = 800
PARAGRAPH_MARK = " ¶ "  # paragraphs of a post's text on one TSV line
TANTIVY_SYSTEMS = {  # name: (index analyzer, how the query's pieces combine)
    "tantivy-words-and": ("words", "and"),
    "tantivy-words-or": ("words", "or"),
    "tantivy-bigrams-and": ("bigrams", "and"),
    "tantivy-bigrams-phrase": ("bigrams", "phrase"),
}
BUILT_IN = ("engine", *TANTIVY_SYSTEMS)
BLIND_COLUMNS = ("kind", "topic", "query", "need", "post_id", "date", "paper", "title", "text", "grade", "story")
QRELS_COLUMNS = ("topic", "post_id", "grade", "story", "source")
JUDGE, KNOWN = "judge", "known"  # a blind row to grade; a row already graded, shown for its story label


# -- topics and grades -----------------------------------------------------

@dataclass(frozen=True)
class Topic:
    id: str
    split: str
    query: str
    need: str


@dataclass(frozen=True)
class Judgment:
    grade: int
    story: str  # the assessor's story label, unique within a topic; posts telling one piece of news share it


Qrels = dict[str, dict[str, Judgment]]  # topic id -> post id -> judgment


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None))


def write_tsv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, object]], append: bool = False) -> None:
    new = not (append and path.exists())
    with path.open("a" if append else "w", encoding="utf-8", newline="") as f:
        # Plain TSV: no quoting at all, so a title's " stays as it is (cells never hold tabs or line breaks).
        writer = csv.DictWriter(f, columns, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerows(rows)


def read_topics(path: Path = TOPICS) -> list[Topic]:
    topics = [Topic(row["id"], row["split"], row["query"], row["need"]) for row in read_tsv(path)]
    if len({t.id for t in topics}) != len(topics) or any(t.split not in ("dev", "test") for t in topics):
        raise SystemExit(f"{path}: topic ids must be unique and every split dev or test")
    return topics


def read_qrels(path: Path = QRELS) -> Qrels:
    qrels: Qrels = {}
    if path.exists():
        for row in read_tsv(path):
            qrels.setdefault(row["topic"], {})[row["post_id"]] = Judgment(int(row["grade"]), row["story"])
    return qrels


# -- metrics ---------------------------------------------------------------

def story_of(post_id: str, judgments: Mapping[str, Judgment]) -> str:
    """The post's story label; an unjudged or unlabelled post is a story of its own."""
    judgment = judgments.get(post_id)
    return judgment.story if judgment and judgment.story else "post:" + post_id


def gains(ranked: Sequence[str], judgments: Mapping[str, Judgment], depth: int = DEPTH) -> list[int]:
    """The grade each shown post adds: 0 when unjudged, or when its story appeared higher."""
    seen: set[str] = set()
    out = []
    for post_id in ranked[:depth]:
        story = story_of(post_id, judgments)
        judgment = judgments.get(post_id)
        out.append(judgment.grade if judgment and story not in seen else 0)
        seen.add(story)
    return out


def repeats(ranked: Sequence[str], judgments: Mapping[str, Judgment], depth: int = DEPTH) -> int:
    """How many shown posts tell a story that a post higher in the list already told."""
    stories = [story_of(post_id, judgments) for post_id in ranked[:depth]]
    return len(stories) - len(set(stories))


def dcg(grades: Sequence[int]) -> float:
    """Linear gain (the grade, as trec_eval's ndcg), log2(rank + 1) discount."""
    return sum(grade / math.log2(rank + 1) for rank, grade in enumerate(grades, start=1))


def ideal_gains(judgments: Mapping[str, Judgment], depth: int = DEPTH) -> list[int]:
    """The best list there is, built as the lists are scored: each story once, at its best grade."""
    best: dict[str, int] = {}
    for post_id, judgment in judgments.items():
        story = story_of(post_id, judgments)
        best[story] = max(best.get(story, 0), judgment.grade)
    return sorted(best.values(), reverse=True)[:depth]


def ndcg(ranked: Sequence[str], judgments: Mapping[str, Judgment], depth: int = DEPTH) -> float | None:
    """nDCG@depth with repeated stories gaining nothing; None when the topic has nothing relevant."""
    ideal = dcg(ideal_gains(judgments, depth))
    return dcg(gains(ranked, judgments, depth)) / ideal if ideal else None


def precision(ranked: Sequence[str], judgments: Mapping[str, Judgment], depth: int = DEPTH,
              relevant: int = RELEVANT) -> float:
    """Shown posts graded `relevant` or better, a repeat not counted, over `depth` (a short list loses)."""
    return sum(grade >= relevant for grade in gains(ranked, judgments, depth)) / depth


def unjudged(ranked: Sequence[str], judgments: Mapping[str, Judgment], depth: int = DEPTH) -> int:
    return sum(post_id not in judgments for post_id in ranked[:depth])


def topic_scores(ranked: Sequence[str], judgments: Mapping[str, Judgment], depth: int = DEPTH) -> dict:
    return {"ndcg": ndcg(ranked, judgments, depth), "precision": precision(ranked, judgments, depth),
            "repeats": repeats(ranked, judgments, depth), "unjudged": unjudged(ranked, judgments, depth),
            "shown": len(ranked[:depth]), "gains": gains(ranked, judgments, depth)}


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(per_topic: Mapping[str, dict], topic_ids: Sequence[str], qrels: Qrels) -> dict:
    """A system's means over `topic_ids`: nDCG over the topics with something relevant, P@10 and
    repeats over the topics with any grade, unjudged over every shown post."""
    judged = [t for t in topic_ids if qrels.get(t)]
    scored = [per_topic[t]["ndcg"] for t in judged if per_topic[t]["ndcg"] is not None]
    shown = sum(per_topic[t]["shown"] for t in topic_ids)
    return {"topics": len(topic_ids), "topics_judged": len(judged), "topics_with_relevant": len(scored),
            "ndcg": _mean(scored), "precision": _mean([per_topic[t]["precision"] for t in judged]),
            "repeats": _mean([per_topic[t]["repeats"] for t in judged]),
            "unjudged": sum(per_topic[t]["unjudged"] for t in topic_ids) / shown if shown else None}


# -- systems ---------------------------------------------------------------

Rankings = dict[str, list[str]]  # topic id -> post ids, best first


@dataclass
class EngineSystem:
    """A finsearch engine: some worktree's code (its Python) over some index, some request options."""

    name: str
    python: Path
    index: Path
    options: dict[str, str] = field(default_factory=dict)
    worktree: Path = REPO
    pool_depth: int | None = None  # hits pooled for grading; None: --engine-pool-depth

    def describe(self) -> dict:
        return {"kind": "engine", "worktree": str(self.worktree), "python": str(self.python),
                "index": str(self.index), "options": self.options, "pool_depth": self.pool_depth}

    def ensure_index(self, archive: Path) -> None:
        if (self.index / "current").exists():
            return
        log.info("building the %s index into %s (once; reused after) ...", self.name, self.index)
        subprocess.run([str(self.python), "-m", "finsearch", "index", str(archive), "--index", str(self.index)],
                       check=True, cwd=self.worktree, stdout=subprocess.DEVNULL)

    def rank(self, topics: Sequence[Topic], depth: int) -> Rankings:
        command = [str(self.python), "-P", str(RANK_ENGINE), str(self.index), "--depth", str(depth)]
        command += [f"--option={key}={value}" for key, value in self.options.items()]
        done = subprocess.run(command, input=json.dumps([[t.id, t.query] for t in topics]), text=True,
                              capture_output=True, cwd=self.worktree)
        if done.returncode:
            raise SystemExit(f"the {self.name} system failed (exit {done.returncode}): {done.stderr.strip()}\n"
                             f"(an index this code cannot read? remove {self.index} to have it rebuilt, or, for a "
                             f"candidate of another worktree, leave out index= so that its own code builds one)")
        return {topic: found["ids"] for topic, found in json.loads(done.stdout).items()}


@dataclass
class TantivySystem:
    """tantivy BM25 over title and body (scores of both fields summed), one of TANTIVY_SYSTEMS."""

    name: str
    index: Path
    analyzer: str  # "words" (jieba) or "bigrams"
    mode: str  # "and", "or" (words), "phrase" (bigrams)

    def describe(self) -> dict:
        return {"kind": "tantivy", "index": str(self.index), "analyzer": self.analyzer, "mode": self.mode}

    def ensure_index(self, archive: Path) -> None:
        import tantivy

        from benchmarks import tantivy_peer
        if self.index.is_dir() and tantivy.Index.exists(str(self.index)):
            return
        log.info("building the tantivy %s index into %s (once; reused after) ...", self.analyzer, self.index)
        partial = self.index.with_name(self.index.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        tantivy_peer.build(archive, partial, analyzer=self.analyzer)
        partial.rename(self.index)  # only a complete index gets the name

    def rank(self, topics: Sequence[Topic], depth: int) -> Rankings:
        from benchmarks import tantivy_peer
        found = tantivy_peer.ranked_ids(self.index, [t.query for t in topics], self.analyzer, self.mode, depth)
        return {topic.id: ids for topic, ids in zip(topics, found)}


System = EngineSystem | TantivySystem


def engine_from_spec(spec: str, work: Path) -> EngineSystem:
    """--engine name=NAME[,worktree=DIR][,python=PY][,index=DIR][,pool=N][,KEY=VALUE ...]."""
    try:
        pairs = dict(part.split("=", 1) for part in spec.split(","))
    except ValueError:
        raise SystemExit(f"--engine {spec!r}: expected comma-separated KEY=VALUE pairs") from None
    name = pairs.pop("name", "")
    if not name or name in BUILT_IN:
        raise SystemExit(f"--engine {spec!r}: give it a name=… other than {', '.join(BUILT_IN)}")
    worktree = Path(pairs.pop("worktree", REPO)).resolve()
    default_python = sys.executable if worktree == REPO else worktree / ".venv" / "bin" / "python"
    python = Path(pairs.pop("python", default_python))
    # Another worktree's build code may write another index: by default it gets its own.
    default_index = work / "rank" / ("engine" if worktree == REPO else "engine-" + name)
    index = Path(pairs.pop("index", default_index)).resolve()
    if not python.exists():
        raise SystemExit(f"--engine {spec!r}: no Python at {python} (python=… names one)")
    pool = pairs.pop("pool", None)
    if pool is not None and not (pool.isdigit() and int(pool) >= DEPTH):
        raise SystemExit(f"--engine {spec!r}: pool=… is how many hits to pool, at least {DEPTH}")
    return EngineSystem(name, python, index, pairs, worktree, int(pool) if pool is not None else None)


def make_systems(args) -> list[System]:
    systems: list[System] = []
    for name in args.systems:
        if name == "engine":
            systems.append(EngineSystem("engine", Path(sys.executable), args.work / "rank" / "engine"))
        else:
            analyzer, mode = TANTIVY_SYSTEMS[name]
            systems.append(TantivySystem(name, args.work / "rank" / f"tantivy-{analyzer}", analyzer, mode))
    systems += [engine_from_spec(spec, args.work) for spec in args.engine]
    if len({s.name for s in systems}) != len(systems):
        raise SystemExit("two systems have the same name")
    return systems


def wire_archive(args) -> Path:
    """The archive every system indexes; exit 2 when it is not on this machine."""
    if args.archive:
        if not args.archive.is_dir():
            print(f"ranking_eval: no archive at {args.archive}", file=sys.stderr)
            raise SystemExit(2)
        return args.archive
    generated = args.work / "corpora" / "wire"
    tool = CORPORA["wire"][1]
    if not generated.is_dir() and not (args.shared / tool).exists():
        print(f"ranking_eval: the wire archive is not here: neither {generated} nor {args.shared / tool} to "
              f"write it exists. It is 102,775 real wire items that only the project's machines have "
              f"(../shared); --work names the folder holding corpora/wire, --shared the shared folder.",
              file=sys.stderr)
        raise SystemExit(2)
    return ensure_corpus("wire", args.work, args.shared)


# -- pooling and blind files -----------------------------------------------

def out_for_grading(blind: Path = BLIND) -> set[tuple[str, str]]:
    """(topic, post id) of every row to grade in the blind files written so far (a filled file
    handed back in the short form, without `kind`, holds judge rows only)."""
    out = set()
    for path in sorted(blind.glob("r*.tsv")):
        out |= {(row["topic"], row["post_id"]) for row in read_tsv(path) if row.get("kind", JUDGE) == JUDGE}
    return out


def new_pool(rankings: Mapping[str, Rankings], topics: Sequence[Topic], qrels: Qrels,
             sent: set[tuple[str, str]], depths: Mapping[str, int], seed: int = POOL_SEED) -> dict[str, list[str]]:
    """Per topic, the posts in some system's top `depths[system]` that are neither graded nor out
    for grading, shuffled (a fixed seed per topic), so their order says nothing of who found them."""
    pool = {}
    for topic in topics:
        shown = dict.fromkeys(post_id for name, ranked in rankings.items()
                              for post_id in ranked[topic.id][:depths[name]])
        new = sorted(p for p in shown if p not in qrels.get(topic.id, {}) and (topic.id, p) not in sent)
        random.Random(f"{seed}/{topic.id}").shuffle(new)
        if new:
            pool[topic.id] = new
    return pool


def split_into_files(sizes: Mapping[str, int], limit: int = MAX_FILE_POSTS, files: int = 0) -> list[list[str]]:
    """Whole topics into files of at most `limit` rows (a topic larger than that gets a file of its
    own), as even as can be: largest topic first into the lightest file. At least `files` files."""
    count = max(files, math.ceil(sum(sizes.values()) / limit), 1)
    while True:
        bins: list[list[str]] = [[] for _ in range(count)]
        loads = [0] * count
        for topic in sorted(sizes, key=lambda t: (-sizes[t], t)):
            lightest = loads.index(min(loads))
            bins[lightest].append(topic)
            loads[lightest] += sizes[topic]
        if all(load <= limit or len(b) == 1 for load, b in zip(loads, bins)) or count >= len(sizes):
            return [sorted(b) for b in bins if b]
        count += 1


def one_line(text: str) -> str:
    """Text for one TSV cell: no tabs or line breaks."""
    return " ".join(text.replace("\t", " ").split())


def post_text(paragraphs: Sequence[str], limit: int = TEXT_CHARS) -> str:
    """The first `limit` characters of a post's clean body, paragraphs marked, … when cut."""
    text = PARAGRAPH_MARK.join(one_line(p) for p in paragraphs if p.strip())
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def blind_row(engine, kind: str, topic: Topic, post_id: str, judgment: Judgment | None = None) -> dict:
    article = engine.article(post_id)
    if article is None:
        raise SystemExit(f"post {post_id} (topic {topic.id}) is not in the engine's index")
    return {"kind": kind, "topic": topic.id, "query": topic.query, "need": one_line(topic.need), "post_id": post_id,
            "date": article.date.strftime("%Y-%m-%d %H:%M"), "paper": one_line(article.paper),
            "title": one_line(article.title),
            "text": post_text(article.paragraphs), "grade": "" if judgment is None else judgment.grade,
            "story": "" if judgment is None else judgment.story}


def known_rows(engine, topic: Topic, judgments: Mapping[str, Judgment]) -> list[dict]:
    """One graded post per story already labelled in this topic (its best graded), so that a new
    post repeating it can be given the same label."""
    best: dict[str, tuple[int, str]] = {}
    for post_id, judgment in judgments.items():
        if judgment.story and (judgment.story not in best or judgment.grade > best[judgment.story][0]):
            best[judgment.story] = (judgment.grade, post_id)
    return [blind_row(engine, KNOWN, topic, post_id, judgments[post_id])
            for _grade, post_id in sorted(best.values(), reverse=True)]


def write_blind_files(pool: Mapping[str, list[str]], topics: Sequence[Topic], qrels: Qrels, engine_index: Path,
                      files: int = 0, blind: Path = BLIND) -> list[Path]:
    from finsearch.search import SearchEngine
    engine = SearchEngine(engine_index, match_cache=0)
    by_id = {t.id: t for t in topics}
    # A topic's stories graded earlier first, so the assessor knows their labels before meeting a repeat.
    rows = {topic_id: known_rows(engine, by_id[topic_id], qrels.get(topic_id, {}))
            + [blind_row(engine, JUDGE, by_id[topic_id], post_id) for post_id in posts]
            for topic_id, posts in pool.items()}
    existing = [int(p.name[1:].split("-")[0]) for p in blind.glob("r*-*.tsv")]
    round_no = max(existing, default=0) + 1
    blind.mkdir(parents=True, exist_ok=True)
    written = []
    for number, topic_ids in enumerate(split_into_files({t: len(r) for t, r in rows.items()}, files=files), 1):
        path = blind / f"r{round_no}-{number:02d}.tsv"
        write_tsv(path, BLIND_COLUMNS, (row for topic_id in topic_ids for row in rows[topic_id]))
        written.append(path)
    return written


# -- grades in -------------------------------------------------------------

def ingest(paths: Sequence[Path], topics: Sequence[Topic], qrels_path: Path = QRELS) -> int:
    """Append the graded rows of filled blind files (or of TSVs with the columns topic, post_id,
    grade, story) to qrels.tsv; returns the number of rows added.

    A story label the topic does not know yet is prefixed with the file's name (r1-02:s3), so
    that labels given in different files never meet by chance; a label copied from a `known` row
    is kept, which is how a new post joins a story graded earlier."""
    qrels = read_qrels(qrels_path)
    topic_ids = {t.id for t in topics}
    added: list[dict] = []
    for path in paths:
        rows = [row for row in read_tsv(path) if row.get("kind", JUDGE) != KNOWN]
        missing = [row["post_id"] for row in rows if not row.get("grade", "").strip()]
        if missing:
            raise SystemExit(f"{path}: {len(missing)} rows without a grade (e.g. post {missing[0]}); nothing added")
        for row in rows:
            topic, post_id, grade = row["topic"], row["post_id"], row["grade"].strip()
            if topic not in topic_ids or grade not in {str(g) for g in GRADES}:
                raise SystemExit(f"{path}: bad row (topic {topic!r}, post {post_id!r}, grade {grade!r}); nothing added")
        for row in rows:
            topic, post_id = row["topic"], row["post_id"]
            if post_id in qrels.get(topic, {}):
                log.warning("%s: %s %s is graded already; kept the earlier grade", path, topic, post_id)
                continue
            known = {j.story for j in qrels.get(topic, {}).values()}
            label = row.get("story", "").strip()
            story = label if not label or label in known else f"{path.stem}:{label}"
            judgment = Judgment(int(row["grade"]), story)
            qrels.setdefault(topic, {})[post_id] = judgment
            added.append({"topic": topic, "post_id": post_id, "grade": judgment.grade, "story": story,
                          "source": path.name})
    write_tsv(qrels_path, QRELS_COLUMNS, added, append=True)
    return len(added)


# -- report ----------------------------------------------------------------

def split_ids(topics: Sequence[Topic]) -> dict[str, list[str]]:
    return {split: [t.id for t in topics if split in ("all", t.split)] for split in SPLITS}


def evaluate(rankings: Mapping[str, Rankings], topics: Sequence[Topic], qrels: Qrels, depth: int = DEPTH) -> dict:
    """Per system: per-topic scores and, per split, the means; per split, each engine's ratio to
    the tantivy system with the best nDCG@10 there (none while nothing is graded relevant)."""
    per_system = {name: {t.id: topic_scores(ranked[t.id], qrels.get(t.id, {}), depth) for t in topics}
                  for name, ranked in rankings.items()}
    splits = split_ids(topics)
    summary = {name: {split: summarize(per_topic, ids, qrels) for split, ids in splits.items()}
               for name, per_topic in per_system.items()}
    ratios: dict[str, dict] = {}
    baselines = [name for name in rankings if name in TANTIVY_SYSTEMS]
    for split in SPLITS:
        ranked_baselines = sorted((b for b in baselines if summary[b][split]["ndcg"] is not None),
                                  key=lambda b: summary[b][split]["ndcg"], reverse=True)
        if not ranked_baselines:
            continue
        best = ranked_baselines[0]
        ratios[split] = {"baseline": best, "engines": {}}
        for name in rankings:
            if name in baselines or summary[name][split]["ndcg"] is None:
                continue
            mine, theirs = summary[name][split], summary[best][split]
            ratios[split]["engines"][name] = {
                metric: mine[metric] / theirs[metric] if mine[metric] is not None and theirs[metric] else None
                for metric in ("ndcg", "precision")}
    return {"per_topic": per_system, "summary": summary, "ratio_to_best_tantivy": ratios}


def _cell(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:.1%}" if percent else f"{value:.3f}"


def print_report(report: dict, topics: Sequence[Topic], qrels: Qrels, posts: int) -> None:
    graded = sum(len(j) for j in qrels.values())
    print(f"\nRANKING  the wire archive ({posts:,} posts indexed), {len(topics)} topics, top {DEPTH} per system; "
          f"{graded:,} graded posts in {len(qrels)} topics")
    print("  nDCG@10: linear gain, log2 discount, a story already shown higher gains nothing, ideal = each "
          "story once at its best grade; P@10: grade >= 2, repeats not counted; repeats: shown posts per "
          "top 10 whose story appeared higher; unjudged: shown posts without a grade (count as 0)")
    width = max(len(name) for name in report["summary"]) + 2
    for split in SPLITS:
        sample = next(iter(report["summary"].values()))[split]
        print(f"\n  {split}: {sample['topics']} topics, {sample['topics_judged']} graded, "
              f"{sample['topics_with_relevant']} with a relevant post")
        print(f"    {'system':<{width}}{'nDCG@10':>9}{'P@10':>8}{'repeats':>9}{'unjudged':>10}")
        for name, by_split in report["summary"].items():
            s = by_split[split]
            print(f"    {name:<{width}}{_cell(s['ndcg']):>9}{_cell(s['precision']):>8}"
                  f"{_cell(s['repeats']):>9}{_cell(s['unjudged'], percent=True):>10}")
        ratio = report["ratio_to_best_tantivy"].get(split)
        if ratio:
            for name, r in ratio["engines"].items():
                print(f"    {name} ÷ best tantivy ({ratio['baseline']}): nDCG@10 {_cell(r['ndcg'])}, "
                      f"P@10 {_cell(r['precision'])}")
        else:
            print("    ratio to the best tantivy system: – (no topic has a post graded relevant yet)")


# -- main ------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ranking_eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK,
                    help="cache: corpora/wire (the archive) and rank/ (every system's index), built on "
                         "first use (default benchmarks/.work; on the project's machines /work/bench-work)")
    ap.add_argument("--archive", type=Path, default=None,
                    help="the posts folder to index instead of WORK/corpora/wire")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                    help="the shared folder whose tools/wire_to_posts.py writes the archive when WORK lacks it")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="where the JSON goes")
    ap.add_argument("--topics", type=Path, default=TOPICS, help="topics TSV (id, split, query, need)")
    ap.add_argument("--qrels", type=Path, default=QRELS, help="grades TSV (topic, post_id, grade, story, source)")
    ap.add_argument("--systems", default=",".join(BUILT_IN),
                    help=f"built-in systems to run, comma-separated (default all: {','.join(BUILT_IN)})")
    ap.add_argument("--engine", action="append", default=[], metavar="SPEC",
                    help="a candidate engine beside the others, repeatable: name=NAME[,worktree=DIR]"
                         "[,python=PY][,index=DIR][,pool=N][,KEY=VALUE ...]; worktree: code to run (default "
                         "this one), with its .venv's Python; index: default WORK/rank/engine for this worktree, "
                         "WORK/rank/engine-NAME (built by that worktree's code) for another; pool: with "
                         "--pool-new, its hits to pool (default --engine-pool-depth); every other "
                         "KEY=VALUE is a make_request option for each query (sort=…, literal=1, …)")
    ap.add_argument("--pool-new", action="store_true",
                    help="also write blind files of the shown posts not graded nor out for grading yet")
    ap.add_argument("--engine-pool-depth", type=int, default=ENGINE_POOL_DEPTH,
                    help=f"with --pool-new: pool this many hits of each engine (default {ENGINE_POOL_DEPTH}; "
                         f"the tantivy systems' top {DEPTH}): a candidate ranking mostly reorders the engine's "
                         f"own matches, so its hits just below the first page are the likeliest to surface next")
    ap.add_argument("--files", type=int, default=0,
                    help="with --pool-new: at least this many blind files (default: as few as the size limit allows)")
    ap.add_argument("--ingest", type=Path, nargs="+", default=None, metavar="FILE",
                    help="append the grades of filled blind files to the qrels, and stop")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)  # this script's own progress; the engine's notes stay quiet
    topics = read_topics(args.topics)
    if args.ingest:
        print(f"added {ingest(args.ingest, topics, args.qrels)} graded posts to {args.qrels}")
        return 0
    args.work, args.results = args.work.resolve(), args.results.resolve()
    args.systems = [name.strip() for name in args.systems.split(",") if name.strip()]
    unknown = set(args.systems) - set(BUILT_IN)
    if unknown:
        ap.error(f"unknown system(s) {', '.join(sorted(unknown))}; built in: {', '.join(BUILT_IN)}")
    systems = make_systems(args)
    archive = wire_archive(args)
    for system in systems:
        system.ensure_index(archive)
    # This worktree's engine index is always there: the post count and the blind files' texts come from it.
    engine_index = args.work / "rank" / "engine"
    EngineSystem("engine", Path(sys.executable), engine_index).ensure_index(archive)
    depths = {s.name: (s.pool_depth or max(DEPTH, args.engine_pool_depth)) if isinstance(s, EngineSystem) else DEPTH
              for s in systems}
    rankings = {system.name: system.rank(topics, depths[system.name]) for system in systems}
    qrels = read_qrels(args.qrels)
    report = evaluate(rankings, topics, qrels)
    from finsearch.search import SearchEngine
    posts = SearchEngine(engine_index, match_cache=0).stats().documents
    print_report(report, topics, qrels, posts)
    written: list[Path] = []
    if args.pool_new:
        pool = new_pool(rankings, topics, qrels, out_for_grading(), depths)
        written = write_blind_files(pool, topics, qrels, engine_index, args.files)
        print(f"\npooled {sum(map(len, pool.values())):,} new posts of {len(pool)} topics into "
              + (", ".join(f"{p.relative_to(REPO)} ({len(read_tsv(p))} rows)" for p in written) or "no file"))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"ranking-{stamp}.json"
    out.write_text(json.dumps({
        "timestamp": stamp, "command": sys.argv, "environment": environment(), "archive": str(archive),
        "posts": posts, "depth": DEPTH, "ranked_depths": depths, "topics": [t.__dict__ for t in topics],
        "systems": {s.name: s.describe() for s in systems}, "rankings": rankings,
        "graded": sum(len(j) for j in qrels.values()), "blind_files_written": [str(p) for p in written],
        **report}, ensure_ascii=False, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
