"""Benchmark: litwatch's full import of a PubMed baseline file vs pubmed_parser's parse alone.

    python benchmarks/bench_import.py [FILE] [--workers N]

FILE defaults to ../shared/data/pubmed_baseline/pubmed20n0014.xml.gz (30,000 real records).
Both sides run in fresh subprocesses, one after the other, so neither inherits the
other's memory. litwatch's figure covers parse + store + full-text index into a new
database; pubmed_parser's covers parsing only (``parse_medline_xml``, default options,
every record consumed). Peak RSS is read from getrusage: the importing process, and
its largest parser worker.

Target (issue 2): litwatch >= 1.5x pubmed_parser's records/s, peak RSS <= 128 MB.
Needs the bench extra: pip install -e '.[bench]'
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/pubmed_baseline/pubmed20n0014.xml.gz"

LITWATCH = """
import json, resource, sys, tempfile, time, os
from litwatch.store import open_db
from litwatch.ingest import import_file
path, workers = sys.argv[1], (int(sys.argv[2]) if sys.argv[2] != "auto" else None)
with tempfile.TemporaryDirectory() as tmp:
    db = open_db(os.path.join(tmp, "bench.db"))
    t = time.perf_counter()
    result = import_file(db, path, workers=workers)
    elapsed = time.perf_counter() - t
    fts = db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'ketamine'").fetchone()[0]
    size = os.path.getsize(os.path.join(tmp, "bench.db"))
print(json.dumps({"records": result.counts.received, "seconds": elapsed, "fts_ketamine_hits": fts,
                  "db_mb": size / 2**20,
                  "rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""

PUBMED_PARSER = """
import json, resource, sys, time
import pubmed_parser as pp
t = time.perf_counter()
n = sum(1 for _ in pp.parse_medline_xml(sys.argv[1]))
elapsed = time.perf_counter() - t
print(json.dumps({"records": n, "seconds": elapsed,
                  "rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=str(DEFAULT))
    parser.add_argument("--workers", default="auto", help="litwatch parser processes (default: auto)")
    args = parser.parse_args()
    theirs = run(PUBMED_PARSER, args.file)
    ours = run(LITWATCH, args.file, args.workers)
    ours_rate = ours["records"] / ours["seconds"]
    theirs_rate = theirs["records"] / theirs["seconds"]
    print(f"file: {args.file}")
    print(f"pubmed_parser parse_medline_xml (parse only): {theirs['records']} records in "
          f"{theirs['seconds']:.2f} s = {theirs_rate:,.0f} records/s (peak RSS {theirs['rss_main_mb']:.0f} MB)")
    print(f"litwatch import (parse + store + FTS, workers={args.workers}): {ours['records']} records in "
          f"{ours['seconds']:.2f} s = {ours_rate:,.0f} records/s; database {ours['db_mb']:.0f} MB; "
          f"FTS 'ketamine' hits {ours['fts_ketamine_hits']}")
    print(f"litwatch peak RSS: importing process {ours['rss_main_mb']:.0f} MB, "
          f"largest parser worker {ours['rss_worker_mb']:.0f} MB")
    ratio = ours_rate / theirs_rate
    print(f"ratio litwatch / pubmed_parser: {ratio:.2f}x (target >= 1.5x) "
          f"{'PASS' if ratio >= 1.5 else 'MISS'}; RSS target <= 128 MB per process "
          f"{'PASS' if max(ours['rss_main_mb'], ours['rss_worker_mb']) <= 128 else 'MISS'}")


if __name__ == "__main__":
    main()
