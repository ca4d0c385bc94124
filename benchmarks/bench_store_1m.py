"""Benchmark: work proportional to the change, on a store of about a million records.

    python benchmarks/bench_store_1m.py [--copies 34] [--db PATH] [--runs 3]

Builds (or reuses) a store of renumbered copies of the real 30,000-record baseline
``pubmed20n0014.xml.gz``: copy k has every PMID raised by k x 20,000,000, so 34 copies hold
1,020,000 distinct records. The first ``--imported`` copies are imported as `litwatch import`
does (one run, then the evidence refreshed); the others are made in SQL from the first copy's
rows (same rows, PMIDs raised): on a 2-core machine shared with other work an import of 30,000
records takes one to two minutes, so 34 imports would take about an hour. The ketamine/PTSD
update-file subset is imported too, so the default topic has papers for the report. Then, on
that store and on an empty one, it times:

- importing 1,000 new records (the first 1,000 of the baseline, renumbered past every copy),
  the whole ``litwatch import`` process;
- ``litwatch report`` (Markdown);
- Datasette (0.65, litwatch's metadata, in process through its test client): the articles
  table page with its facets, a facet alone, and a full-text search;
- FTS5 queries in plain SQL.

Timings are medians of ``--runs`` runs (each import brings 1,000 records not yet stored).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
DATA = Path(os.environ.get("LITWATCH_BENCH_DATA") or next(
    (p / "shared/data/pubmed_baseline" for p in HERE.parents if (p / "shared/data/pubmed_baseline").is_dir()), "."))
BASELINE = DATA / "pubmed20n0014.xml.gz"
SUBSET = HERE.parents[1] / "tests/fixtures/pubmed21n1298_subset_ketamine_ptsd_ctgov.xml.gz"
STEP = 20_000_000  # PMID offset between copies: above every PMID the file names (18.7 million)
BIN = Path(sys.executable).parent
_PMID = re.compile(rb'(<PMID Version="\d+">|<ArticleId IdType="pubmed">)(\d+)<')


def renumbered(xml: bytes, offset: int) -> bytes:
    """The file with every PMID (citations, comments, article IDs) raised by ``offset``."""
    if not offset:
        return xml
    return _PMID.sub(lambda m: m.group(1) + str(int(m.group(2)) + offset).encode() + b"<", xml)


def first(xml: bytes, n: int) -> bytes:
    """The file cut after its first ``n`` records."""
    at = 0
    for _ in range(n):
        at = xml.index(b"</PubmedArticle>", at) + len(b"</PubmedArticle>")
    return xml[:at] + b"\n</PubmedArticleSet>\n"


def build(db: Path, copies: int, imported: int, xml: bytes, tmp: str) -> None:
    """Import the first ``imported`` copies (printing the time of each), then replicate the
    first copy's rows in SQL up to ``copies``; a store already built is grown, not rebuilt."""
    from litwatch import api

    have = 0
    if db.exists():
        conn = sqlite3.connect(db)
        have = conn.execute("SELECT count(*) FROM articles").fetchone()[0] // 30_000
        conn.close()
    for k in range(have, min(imported, copies)):
        path = Path(tmp) / f"copy-{k}.xml"
        path.write_bytes(renumbered(xml, k * STEP))
        t = time.perf_counter()
        api.import_paths(db, [path])
        print(f"  copy {k + 1}/{copies} imported: {time.perf_counter() - t:.1f} s", flush=True)
        path.unlink()
    if copies > max(have, imported):
        replicate(db, range(max(have, imported), copies))
    if have < copies:
        api.import_paths(db, [SUBSET], topic="ketamine-ptsd")


def replicate(db: Path, ks: range) -> None:
    """Copy k of the first copy's records, k in ``ks``, made in SQL: the same rows (articles,
    child rows, full-text index, designs) with every record's PMID raised by k x STEP. What it
    leaves out: the copies share the first copy's raw archive blocks, so the file is smaller
    than a store of imported copies (by some 15 MB a copy)."""
    from litwatch.sources.pubmed.schema import FAMILY

    conn = sqlite3.connect(db, isolation_level=None)
    for k in ks:
        t = time.perf_counter()
        conn.execute("BEGIN")
        for table in (FAMILY.table, *FAMILY.children):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")]
            select = ", ".join("pmid + :off" if c == "pmid" else f"[{c}]" for c in cols)
            conn.execute(f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in cols)}) SELECT {select} "
                         f"FROM [{table}] WHERE pmid < :step", {"off": k * STEP, "step": STEP})
        conn.execute("INSERT INTO articles_fts (rowid, title, abstract) SELECT pmid, title, abstract FROM articles "
                     "WHERE pmid >= :lo AND pmid < :hi", {"lo": k * STEP, "hi": (k + 1) * STEP})
        conn.execute("COMMIT")
        print(f"  copy {k + 1} replicated in SQL: {time.perf_counter() - t:.1f} s", flush=True)
    conn.close()


def timed(argv: list[str], cwd: str) -> float:
    t = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t


def import_times(db: Path, xml: bytes, runs: int, base: int, tmp: str) -> list[float]:
    """Whole-process times of importing 1,000 records not yet in ``db``, once per run."""
    out = []
    for i in range(runs):
        path = Path(tmp) / f"new-{i}.xml"
        path.write_bytes(renumbered(first(xml, 1000), base + i * STEP))
        out.append(timed([str(BIN / "litwatch"), "--db", str(db), "import", "--quiet", str(path)], tmp))
        path.unlink()
    return out


def datasette_times(db: Path, runs: int) -> dict[str, list[float]]:
    """The articles page (with litwatch's facets), one facet, a full-text search, in Datasette."""
    from datasette.app import Datasette

    from litwatch.browse import DATASETTE_SETTINGS, datasette_metadata

    # As `litwatch serve` runs it: litwatch's metadata and settings.
    settings = {k: {"on": True, "off": False}.get(v, int(v) if v.isdigit() else v)
                for k, v in DATASETTE_SETTINGS.items()}
    ds = Datasette([str(db)], metadata=datasette_metadata(db), settings=settings)
    name = db.stem
    pages = {
        "table page (articles, with its default facets)": f"/{name}/articles",
        "facets as JSON (default facets + _facet=language)": f"/{name}/articles.json?_facet=language&_size=0",
        "full-text search (_search=ketamine)": f"/{name}/articles?_search=ketamine",
    }

    async def go() -> dict[str, list[float]]:
        await ds.invoke_startup()
        await ds.client.get(f"/{name}")  # introspection, once
        out: dict[str, list[float]] = {}
        for label, url in pages.items():
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                response = await ds.client.get(url)
                times.append(time.perf_counter() - t)
                if response.status_code != 200:
                    raise SystemExit(f"{url}: HTTP {response.status_code}")
                timed_out = (response.json().get("facets_timed_out") if ".json" in url
                             else "facets-timed-out" in response.text)
                if timed_out:
                    out.setdefault(f"{label} [a facet timed out]", [])
            out[label] = times
        return out

    return asyncio.run(go())


def fts_times(db: Path, runs: int) -> dict[str, list[float]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    queries = {"FTS 'ketamine' (top 20 by rank)": "ketamine", "FTS 'post traumatic stress' (phrase-less)":
               "post traumatic stress", "FTS 'randomized AND placebo'": "randomized AND placebo"}
    out = {}
    for label, q in queries.items():
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            conn.execute("SELECT a.pmid, a.title FROM articles_fts JOIN articles a ON a.pmid = articles_fts.rowid "
                         "WHERE articles_fts MATCH ? ORDER BY rank LIMIT 20", [q]).fetchall()
            times.append(time.perf_counter() - t)
        out[label] = times
    conn.close()
    return out


def line(label: str, big: list[float], empty: list[float] | None = None, limit: float | None = None) -> str:
    b = statistics.median(big)
    text = f"{label:52} {b * 1000:9.1f} ms"
    if empty:
        e = statistics.median(empty)
        text += f"   (empty store: {e * 1000:7.1f} ms; ratio {b / e:.2f})"
    if limit is not None:
        text += f"   target < {limit * 1000:g} ms: {'PASS' if b < limit else 'MISS'}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=34, help="copies of the baseline (34: 1,020,000 records)")
    parser.add_argument("--imported", type=int, default=2,
                        help="copies imported by litwatch (2); the others are made in SQL from the first")
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "litwatch-1m.db",
                        help="the big store (kept between runs, grown to --copies)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with gzip.open(BASELINE, "rb") as f:
        xml = f.read()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        build(args.db, args.copies, args.imported, xml, tmp)
        conn = sqlite3.connect(args.db)
        records = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        conn.close()
        print(f"store: {records:,} articles, {args.db.stat().st_size / 2**30:.2f} GB "
              f"(built or grown in {time.perf_counter() - t:.0f} s)")
        empty = Path(tmp) / "empty.db"
        # Above every PMID stored (earlier runs of this benchmark added records too).
        conn = sqlite3.connect(args.db)
        base = (conn.execute("SELECT max(pmid) FROM articles").fetchone()[0] // STEP + 1) * STEP
        conn.close()
        if base + (args.runs + 1) * STEP >= 10 ** 9:
            raise SystemExit("too many copies for distinct 9-digit PMIDs")
        big_imports = import_times(args.db, xml, args.runs, base, tmp)
        empty_imports = []
        for i in range(args.runs):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{empty}{suffix}").unlink(missing_ok=True)
            empty_imports += import_times(empty, xml, 1, base + i * STEP, tmp)
        print(f"figures: medians of {args.runs} runs; machine {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f}")
        print(line("litwatch import of 1,000 new records (whole process)", big_imports, empty_imports))
        print("  (the empty store's figure includes creating the schema: some 40 tables, indexes, views)")
        report = [timed([str(BIN / "litwatch"), "--db", str(args.db), "report", "--format", "md", "-o",
                         str(Path(tmp) / "report.md")], tmp) for _ in range(args.runs)]
        print(line("litwatch report (Markdown, whole process)", report, limit=10))
        for label, times in datasette_times(args.db, args.runs).items():
            if times:
                print(line(f"Datasette {label}", times, limit=1))
            else:
                print(f"Datasette {label}")
        for label, times in fts_times(args.db, args.runs).items():
            print(line(label, times, limit=0.1))


if __name__ == "__main__":
    main()
