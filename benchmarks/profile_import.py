"""Where an import's time goes, and the floor under it.

    python benchmarks/profile_import.py [FILE] [--records N]

Runs ``litwatch import`` of FILE (default: the 30,000-record baseline, see bench_import.py)
in this process under cProfile and sums the CPU time by stage: libxml2's parse and gunzip
(C, the time the bare iterparse count also spends), litwatch's record extraction (Python),
SQLite (C: inserts, the full-text index, the evidence queries), the design rules, the raw
archive (zstd), the evidence layer and the rest. Then it measures the floor of the store:
the same parsed rows inserted into an empty database of the same schema with one
``executemany`` per table and batch, and the full-text index, nothing else. The parse floor
(bench_import.py's lxml count) plus that store floor is what any import of this store costs
in CPython with SQLite, whatever its Python does.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import gzip
import pstats
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_import import DATA, DEFAULTS, first_records  # noqa: E402

FLOOR_STAGE = "libxml2 parse + gunzip (the bare iterparse count)"


def parse_floor(path: Path) -> float:
    """CPU seconds lxml's iterparse takes to count the file's records, clearing each."""
    from lxml import etree

    start = time.process_time()
    with gzip.open(path) if path.suffix == ".gz" else open(path, "rb") as f:
        for _, el in etree.iterparse(f, tag="PubmedArticle"):
            el.clear()
            while el.getprevious() is not None:
                del el.getparent()[0]
    return time.process_time() - start


def parse(path: Path) -> tuple[float, list]:
    """CPU seconds litwatch's parser takes to read every record into its rows, streaming (as an
    import does: each record goes once it is read); then, untimed, the records kept for the store."""
    from litwatch.sources.pubmed.parse import iter_xml

    start = time.process_time()
    with gzip.open(path) if path.suffix == ".gz" else open(path, "rb") as f:
        for _ in iter_xml(f):
            pass
    seconds = time.process_time() - start
    with gzip.open(path) if path.suffix == ".gz" else open(path, "rb") as f:
        records = [e.record for e in iter_xml(f) if e.kind == "article"]
    gc.freeze()  # kept whole here, which a streaming import never does: not scanned again
    return seconds, records


def store(records: list, db: Path) -> tuple[float, dict[str, float]]:
    """CPU seconds the store takes for parsed records (save in batches of 500, then the
    evidence layer), and, from a profile of the same work, its share by part."""
    from litwatch import evidence
    from litwatch.catalog import open_db
    from litwatch.config import default_topic
    from litwatch.sources import get
    from litwatch.sources.base import Batch
    from litwatch.store.db import transaction

    def run(conn: sqlite3.Connection) -> None:
        source = get("pubmed")
        for i in range(0, len(records), 500):
            with transaction(conn):
                source.save(conn, Batch(records=records[i:i + 500]), run_id=None, topic=None, origin="import")
        evidence.refresh(conn, [default_topic()])

    conn = open_db(db)
    start = time.process_time()
    run(conn)
    seconds = time.process_time() - start
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    conn = open_db(db)
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(run, conn)
    conn.close()
    parts = {"SQLite (C: inserts, full-text index, evidence queries)": 0.0, "design rules": 0.0,
             "raw archive (zstd)": 0.0, "evidence (relevance, links: Python)": 0.0, "write path (Python)": 0.0}
    for (filename, _, function), (_, _, tottime, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore
        if function.startswith("<method 'execute") or function.startswith("<method 'fetch"):
            parts["SQLite (C: inserts, full-text index, evidence queries)"] += tottime
        elif filename.endswith("designs.py") or function == "derive":
            parts["design rules"] += tottime
        elif "zstandard" in function or function == "_archive" or filename.endswith("raw.py"):
            parts["raw archive (zstd)"] += tottime
        elif filename.endswith("evidence.py"):
            parts["evidence (relevance, links: Python)"] += tottime
        else:
            parts["write path (Python)"] += tottime
    total = sum(parts.values())
    return seconds, {name: share / total for name, share in parts.items()}


def store_floor(records: list) -> tuple[float, float, int]:
    """CPU seconds SQLite alone takes to hold the parsed records' rows (without, with the
    full-text index), and how many rows they are."""
    from litwatch.catalog import schema
    from litwatch.sources.pubmed.schema import FAMILY
    from litwatch.store.schema import ensure_schema

    content = FAMILY.content()
    title, abstract = content.index("title"), content.index("abstract")
    rows = len(records) + sum(len(r.children[n]) for r in records for n in FAMILY.children)
    times = []
    for fts in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            conn = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN")
            ensure_schema(conn, schema())
            conn.execute("COMMIT")
            start = time.process_time()
            marks = ", ".join("?" * len(content))
            insert = f"INSERT OR REPLACE INTO articles ({', '.join(content)}) VALUES ({marks})"
            for i in range(0, len(records), 500):
                batch = records[i:i + 500]
                conn.execute("BEGIN")
                conn.executemany(insert, [r.row for r in batch])
                for name in FAMILY.children:
                    child = [row for r in batch for row in r.children[name]]
                    if child:
                        marks = ", ".join("?" * len(child[0]))
                        conn.executemany(f"INSERT OR REPLACE INTO [{name}] VALUES ({marks})", child)
                if fts:
                    conn.executemany("INSERT INTO articles_fts (rowid, title, abstract) VALUES (?, ?, ?)",
                                     [(r.key, r.row[title], r.row[abstract]) for r in batch])
                conn.execute("COMMIT")
            times.append(time.process_time() - start)
            conn.close()
    return times[0], times[1], rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", type=Path, default=DATA / DEFAULTS[0])
    parser.add_argument("--records", type=int, help="only the first N records")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = first_records(args.file, args.records, tmp) if args.records else args.file
        floor = parse_floor(path)
        parsed, records = parse(path)
        stored, parts = store(records, Path(tmp) / "profile.db")
        bare, indexed, rows = store_floor(records)
        print(f"{path.name}: {len(records):,} records, {rows:,} rows; CPU seconds by stage (in this process, "
              f"interpreter start and imports left out)")
        print(f"  {FLOOR_STAGE:<58} {floor:6.2f}")
        print(f"  {'record extraction (litwatch parser - the count)':<58} {parsed - floor:6.2f}")
        print(f"  {'store: save in batches of 500 + evidence refresh':<58} {stored:6.2f}")
        for name, share in sorted(parts.items(), key=lambda kv: -kv[1]):
            print(f"    {name:<56} {share * stored:6.2f}  ({share:.0%} of the store, by profile)")
        print(f"  {'total':<58} {parsed + stored:6.2f}")
        print(f"store floor: SQLite alone holds these rows in {bare:.2f} CPU s, {indexed:.2f} s with the full-text "
              f"index (one executemany per table and batch of 500, a repeated record replacing the earlier; "
              f"nothing else); parse floor + store floor = "
              f"{floor + indexed:.2f} s")


if __name__ == "__main__":
    main()
