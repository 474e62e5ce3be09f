"""Where an index's bytes go: per file kind, and for the engine's Whoosh index per field.

    .venv/bin/python -m benchmarks.index_bytes INDEX_ROOT [--tantivy DIR] [--json]

INDEX_ROOT is an engine index root (its `current` generation is read); `--tantivy DIR` also
breaks down a tantivy index folder (benchmarks/tantivy_peer.py) by file extension.

The engine's index: per file kind, then per field of its FS1 segments (indexer/codec.py; exact,
from every term dictionary block: terms, postings, bytes of the dictionary `ftd`, of docnums and
frequencies and of positions in `fpo`); for W3 segments (an index from before FS1, or written by
the fallback writer; see indexer/whoosh_format.py):

- per file kind, summed over segments: `trm` (the term dictionary: one entry per field and
  term, holding the term's statistics and either a pointer into `pst` or, for a term of one
  document, its posting inlined), `pst` (posting blocks), `fsd` (stored fields in compressed
  blocks), each column `<field>.col` (`_stored.col`: W3's stored fields, one compressed pickle
  per document, in segments written before `fsd`; `_<field>_len.col`: one length byte per
  document and text field; `signature.col`, `id.col`, …), and the index's own small files;
- per field, by walking every segment's term dictionary (exact): terms, postings (the sum of
  the terms' document frequencies), bytes of its dictionary entries in `trm` (8 bytes of
  lengths, the key, the term info), of that its inlined postings, and bytes in `pst` (each
  term's extent);
- per field, what its postings hold (an estimate): doc ids, weights and values (positions for
  a positional field, frequencies for a word field). Terms are sampled with probability
  proportional to their bytes in `pst` (`PST_SAMPLES` per segment; at most `SAMPLE_BLOCKS`
  blocks decoded of each) and every `INLINE_STRIDE`-th inlined posting list; each sample's three
  parts are re-pickled as Whoosh pickles them (protocol 2, uncompressed) and their shares
  averaged, then applied to the field's measured bytes. zlib compresses the parts together, so
  the split is of the uncompressed sizes;
- stored fields: `fsd` (storage/stored.py: blocks of documents compressed together; a date is
  read back from its column) and `_stored.col` (W3's, in segments written before it: one
  compressed pickle per document) split by field in proportion to each value's pickled size in
  a sample of `STORED_SAMPLE` documents per segment (either compresses more than one value
  together, so the split is an estimate).
"""
from __future__ import annotations

import argparse
import json
import pickle
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

MIB = 2 ** 20
PST_SAMPLES = 2000
SAMPLE_BLOCKS = 16
INLINE_STRIDE = 50
STORED_SAMPLE = 1000
ENTRY_LENGTHS = 8  # filetables' "!ii" (key length, value length) before each entry of the term file
PARTS = ("doc ids", "weights", "values")
_SEGMENT_FILE = re.compile(r"^[A-Za-z0-9]+_[a-z0-9]{16}\.(.+)$")  # MAIN_<segment id>.<kind>


def _file_kind(name: str) -> str:
    match = _SEGMENT_FILE.match(name)
    return match.group(1) if match else name


def files_by_kind(folder: Path, kind_of=_file_kind) -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    for path in folder.iterdir():
        if path.is_file():
            sizes[kind_of(path.name)] += path.stat().st_size
    return dict(sorted(sizes.items(), key=lambda item: -item[1]))


def _minified_weights(weights) -> Any:
    """Weights as W3PostingsWriter pickles them: None if all 1, one float if all equal."""
    weights = list(weights)
    if all(w == 1.0 for w in weights):
        return None
    if all(w == weights[0] for w in weights):
        return weights[0]
    return tuple(weights)


def _part_sizes(ids, weights, values) -> tuple[int, int, int]:
    return (len(pickle.dumps(tuple(ids), 2)), len(pickle.dumps(_minified_weights(weights), 2)),
            len(pickle.dumps(tuple(values), 2)))


def _shares(sizes: tuple[int, int, int]) -> tuple[float, float, float]:
    total = sum(sizes) or 1
    return sizes[0] / total, sizes[1] / total, sizes[2] / total


class _Field:
    def __init__(self) -> None:
        self.terms = self.postings = self.trm_bytes = self.inline_bytes = self.pst_bytes = 0
        self.pst_shares: list[tuple[float, float, float]] = []
        self.inline_shares: list[tuple[float, float, float]] = []

    def estimate(self, shares: list[tuple[float, float, float]], measured: int) -> dict[str, int] | None:
        if not shares:
            return None
        return {part: round(measured * sum(s[i] for s in shares) / len(shares)) for i, part in enumerate(PARTS)}


def whoosh_breakdown(root: Path) -> dict:
    """The engine's current index generation under `root`, broken down (see the module's doc)."""
    from finsearch.storage.generations import open_current
    from finsearch.storage.whoosh_format import fs1_terms

    ix, build = open_current(root)
    fields: dict[str, _Field] = defaultdict(_Field)
    fs1_fields: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    stored: dict[str, float] = defaultdict(float)
    with ix.reader() as reader:
        docs = reader.doc_count_all()
        for segment, _ in reader.leaf_readers():
            fs1 = fs1_terms(segment)
            if fs1 is not None:
                for name in fs1.indexed_field_names():
                    for part, size in fs1.field_sizes(name).items():
                        fs1_fields[name][part] += size
            else:
                pst = build / segment.segment().make_filename(".pst")
                _walk_terms(segment, pst.stat().st_size if pst.exists() else 0, fields)
            _sample_stored(segment, stored)
    files = files_by_kind(build)
    total_stored = files.get("_stored.col", 0) + files.get("fsd", 0)
    stored_total = sum(stored.values()) or 1
    out_fields = {}
    for name, f in sorted(fields.items(), key=lambda item: -(item[1].trm_bytes + item[1].pst_bytes)):
        fmt = ix.schema[name].format if name in ix.schema else None
        values = ("positions" if fmt is not None and fmt.supports("positions") else
                  "frequencies" if fmt is not None and fmt.supports("frequency") else "values")
        rename = {"values": values}

        def named(estimate: dict[str, int] | None, rename=rename) -> dict[str, int] | None:
            return None if estimate is None else {rename.get(k, k): v for k, v in estimate.items()}
        out_fields[name] = {
            "terms": f.terms, "postings": f.postings, "trm_entry_bytes": f.trm_bytes,
            "inlined_postings_bytes": f.inline_bytes, "pst_bytes": f.pst_bytes,
            "pst_parts_estimate": named(f.estimate(f.pst_shares, f.pst_bytes)),
            "inlined_parts_estimate": named(f.estimate(f.inline_shares, f.inline_bytes)),
            "pst_samples": len(f.pst_shares), "inlined_samples": len(f.inline_shares),
        }
    return {
        "engine": "whoosh", "path": str(build), "documents": docs, "total_bytes": sum(files.values()),
        "files": files, "fields": out_fields,
        "fs1_fields": {name: dict(sizes) for name, sizes in sorted(
            fs1_fields.items(), key=lambda item: -(item[1]["docs_bytes"] + item[1]["positions_bytes"]))},
        # The term file beyond its entries: filetables' hash tables and the sorted index of keys.
        "trm_tables_bytes": files.get("trm", 0) - sum(f["trm_entry_bytes"] for f in out_fields.values()),
        "stored_fields_estimate": {name: round(total_stored * size / stored_total)
                                   for name, size in sorted(stored.items(), key=lambda item: -item[1])},
        "method": {"pst_samples_per_segment": PST_SAMPLES, "sample_blocks": SAMPLE_BLOCKS,
                   "inline_stride": INLINE_STRIDE, "stored_sample_per_segment": STORED_SAMPLE},
    }


def _walk_terms(segment, pst_file_bytes: int, fields: dict[str, _Field]) -> None:
    """One pass over a segment's term dictionary: the exact counts, and the samples."""
    from whoosh.codec.whoosh3 import W3TermInfo

    from finsearch.storage import whoosh_format

    # Probability proportional to bytes: a term is sampled each time the running byte count
    # of the segment's postings passes the next multiple of the step.
    step = max(1, pst_file_bytes // PST_SAMPLES)
    running, next_mark = 0, step // 2
    for fieldname, tbytes, valbytes in whoosh_format.term_table(segment):
        info = W3TermInfo.from_bytes(valbytes)
        f = fields[fieldname]
        f.terms += 1
        f.postings += info.doc_frequency()
        f.trm_bytes += ENTRY_LENGTHS + 2 + len(tbytes) + len(valbytes)  # the key: a 2-byte field number + term
        if info.is_inlined():
            f.inline_bytes += len(valbytes) - whoosh_format.TERM_INFO_FIXED_BYTES
            if f.terms % INLINE_STRIDE == 0:
                f.inline_shares.append(_shares(_part_sizes(*info.inlined_postings())))
            continue
        _offset, length = info.extent()
        length = length[0] if isinstance(length, tuple) else length
        f.pst_bytes += length
        running += length
        if running < next_mark:
            continue
        while next_mark <= running:
            next_mark += step
        sizes = [0, 0, 0]
        for count, (_, decode) in enumerate(whoosh_format.segment_blocks(segment, info)):
            if count == SAMPLE_BLOCKS:
                break
            deltas, weights, values = decode()
            for i, size in enumerate(_part_sizes(deltas, weights, [whoosh_format.encoded_value(v) for v in values or ()])):
                sizes[i] += size
        f.pst_shares.append(_shares((sizes[0], sizes[1], sizes[2])))


def _sample_stored(segment, stored: dict[str, float]) -> None:
    count = segment.doc_count_all()
    stride = max(1, count // STORED_SAMPLE)
    from_columns = getattr(segment._perdoc, "_from_columns", {})  # an fsd segment's: read from their columns
    for docnum in range(0, count, stride):
        if segment.is_deleted(docnum):
            continue
        for name, value in segment.stored_fields(docnum).items():
            if name not in from_columns:
                stored[name] += len(pickle.dumps(value, 2)) * stride


_TANTIVY_SEGMENT_FILE = re.compile(r"^[0-9a-f]{32}\.(\w+)$")  # <segment uuid>.<ext>


def _tantivy_kind(name: str) -> str:
    match = _TANTIVY_SEGMENT_FILE.match(name)
    return match.group(1) if match else name


TANTIVY_KINDS = {"idx": "postings (doc ids, term frequencies)", "pos": "positions", "term": "term dictionary",
                 "store": "stored fields (compressed blocks)", "fast": "fast fields (columns)",
                 "fieldnorm": "field norms (one byte per document and field)"}


def tantivy_breakdown(folder: Path) -> dict:
    files = files_by_kind(folder, _tantivy_kind)
    return {"engine": "tantivy", "path": str(folder), "total_bytes": sum(files.values()), "files": files,
            "meaning": {kind: TANTIVY_KINDS[kind] for kind in files if kind in TANTIVY_KINDS}}


# -- output --------------------------------------------------------------------

def _mib(value: int | None) -> str:
    return "–" if value is None else f"{value / MIB:,.2f}"


def _share(value: int, total: int) -> str:
    return f"{100 * value / total:5.1f}%" if total else "–"


def print_breakdown(report: dict, posts: int | None = None) -> None:
    total = report["total_bytes"]
    per_post = f", {total / posts:,.0f} bytes per post" if posts else ""
    print(f"\nINDEX BYTES  {report['engine']}: {report['path']}: {_mib(total)} MiB{per_post}")
    print(f"  {'file kind':32}{'MiB':>12}{'share':>8}")
    for kind, size in report["files"].items():
        meaning = report.get("meaning", {}).get(kind, "")
        print(f"  {kind:32}{_mib(size):>12}{_share(size, total):>8}  {meaning}")
        if kind == "trm" and "trm_tables_bytes" in report:
            print(f"  {'  of it beyond the entries':32}{_mib(report['trm_tables_bytes']):>12}"
                  f"{_share(report['trm_tables_bytes'], total):>8}  hash tables and key index")
    if report.get("fs1_fields"):
        print(f"  {'FS1 field':14}{'terms':>11}{'postings':>13}{'dictionary MiB':>16}{'docs+freqs MiB':>16}"
              f"{'positions MiB':>15}")
        for name, f in report["fs1_fields"].items():
            print(f"  {name:14}{f['terms']:>11,}{f['postings']:>13,}{_mib(f['dictionary_bytes']):>16}"
                  f"{_mib(f['docs_bytes']):>16}{_mib(f['positions_bytes']):>15}")
    if report.get("fields"):
        print(f"  {'W3 field':14}{'terms':>11}{'postings':>13}{'trm MiB':>9}{' of it inlined':>15}{'pst MiB':>9}"
              f"  parts of pst + inlined (estimate): doc ids / weights / values")
        for name, f in report["fields"].items():
            parts: dict[str, int] = defaultdict(int)
            for estimate in (f["pst_parts_estimate"], f["inlined_parts_estimate"]):
                for part, size in (estimate or {}).items():
                    parts[part] += size
            split = " / ".join(f"{part} {_mib(size)}" for part, size in parts.items()) or "–"
            print(f"  {name:14}{f['terms']:>11,}{f['postings']:>13,}{_mib(f['trm_entry_bytes']):>9}"
                  f"{_mib(f['inlined_postings_bytes']):>15}{_mib(f['pst_bytes']):>9}  {split}")
    stored = report.get("stored_fields_estimate")
    if stored:
        print("  stored fields (fsd, _stored.col) by field (estimate): "
              + ", ".join(f"{name} {_mib(size)}" for name, size in stored.items() if size >= total / 1000))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.index_bytes", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path, help="an engine index root (holds `current`)")
    ap.add_argument("--tantivy", type=Path, default=None, help="a tantivy index folder to break down too")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    args = ap.parse_args(argv)
    from finsearch.storage.generations import IndexMissing
    try:
        reports = [whoosh_breakdown(args.root)]
    except IndexMissing as error:
        print(f"index_bytes: {error}", file=sys.stderr)
        return 2
    if args.tantivy:
        reports.append(tantivy_breakdown(args.tantivy))
    if args.json:
        print(json.dumps(reports, ensure_ascii=False))
    else:
        for report in reports:
            print_breakdown(report, report.get("documents"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
