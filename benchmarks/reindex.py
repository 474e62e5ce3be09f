"""The nightly reindex on a 10,000-post archive: full build, nothing changed, 100 added + 10 changed.

    .venv/bin/python -m benchmarks.reindex [--posts 10000] [--work DIR]

Works on a copy of the 10k corpus (make_corpus.py, seed 1) in the work dir, runs
`finsearch reindex` as a user would (a fresh process each time, wall time
measured around it) and prints one line per step and a JSON object.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ADDED, CHANGED = 100, 10


def run_reindex(archive: Path, index: Path, *extra: str) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "finsearch", "reindex", str(archive), "--index", str(index),
                           "--json", *extra], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    report["wall_seconds"] = round(time.perf_counter() - started, 2)
    report.pop("problems", None)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=HERE / ".work")
    parser.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared")
    args = parser.parse_args()
    from benchmarks.run import ensure_corpus

    corpus = ensure_corpus("10k", args.work, args.shared)
    archive = args.work / "corpora" / "reindex-10k"
    index = args.work / "indexes" / "reindex-10k"
    shutil.rmtree(archive, ignore_errors=True)
    shutil.rmtree(index, ignore_errors=True)
    shutil.copytree(corpus, archive)

    steps = {"full": run_reindex(archive, index, "--full")}
    steps["nothing changed"] = run_reindex(archive, index)

    extra = args.work / "corpora" / "reindex-extra"
    shutil.rmtree(extra, ignore_errors=True)
    subprocess.run([sys.executable, str(args.shared / "tools" / "make_corpus.py"), "--out", str(extra),
                    "-n", str(ADDED), "--seed", "7"], check=True, capture_output=True)
    for i, path in enumerate(sorted(extra.rglob("*.md"))):
        target = archive / "added" / path.name.replace(".md", f"-{i}.md")
        target.parent.mkdir(exist_ok=True)
        shutil.copy(path, target)
    for path in sorted(archive.rglob("*.md"))[:CHANGED]:
        path.write_text(path.read_text("utf-8").replace("\n---\n", "\n---\n今日更正：", 1), "utf-8")
    steps[f"{ADDED} added, {CHANGED} changed"] = run_reindex(archive, index)
    steps["nothing changed again"] = run_reindex(archive, index)

    for name, report in steps.items():
        print(f"{name:<26} {report['wall_seconds']:>7.2f} s wall  (engine {report['seconds']:.2f} s; "
              f"+{report['added']} ~{report['updated']} -{report['deleted']}; "
              f"segments {report['segments_before']} -> {report['segments_after']})")
    print(json.dumps(steps, ensure_ascii=False))


if __name__ == "__main__":
    main()
