"""Stress: import the same large file many times in a row, as a user's scripts would.

    python benchmarks/stress_import.py [FILE] [--times N] [--budget SECONDS]

Each import is a separate ``litwatch import`` process on one database. Every run must exit 0,
print no traceback, end as 'success' in the runs table, and leave the database with the same
content (a digest of every stored row, run numbers aside). FILE defaults to the shared
30,000-record baseline file pubmed20n0014.xml.gz. The script stops early, and fails, when the
time budget is spent.
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = next((p / "shared/data/pubmed_baseline" for p in Path(__file__).resolve().parents
               if (p / "shared/data/pubmed_baseline").is_dir()), Path("../shared/data/pubmed_baseline"))
RUN_COLUMNS = {"first_run_id", "changed_run_id", "seen_run_id", "run_id", "id"}


def digest(path: Path) -> str:
    """A digest of every row of every content table, without run numbers."""
    conn = sqlite3.connect(path)
    h = hashlib.blake2b(digest_size=16)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                         "'%fts%' AND name NOT IN ('runs', 'reports', 'settings') ORDER BY name")]
    for table in tables:
        cols = [c[1] for c in conn.execute(f"PRAGMA table_info([{table}])") if c[1] not in RUN_COLUMNS]
        for row in conn.execute(f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM [{table}] ORDER BY 1, 2"):
            h.update(repr(row).encode())
    conn.close()
    return h.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=SHARED / "pubmed20n0014.xml.gz")
    parser.add_argument("--times", type=int, default=5)
    parser.add_argument("--budget", type=float, default=900, help="seconds for the whole stress (default 900)")
    args = parser.parse_args()
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "stress.db"
        reference = None
        for i in range(1, args.times + 1):
            if time.monotonic() - start > args.budget:
                print(f"FAILED: budget of {args.budget:g} s spent after {i - 1} imports")
                return 1
            t = time.monotonic()
            run = subprocess.run([sys.executable, "-m", "litwatch", "--db", str(db), "import", "--quiet",
                                  str(args.file)], capture_output=True, text=True)
            seconds = time.monotonic() - t
            status = sqlite3.connect(db).execute("SELECT status FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0]
            now = digest(db)
            reference = reference or now
            ok = run.returncode == 0 and "Traceback" not in run.stderr and status == "success" and now == reference
            print(f"import {i}: exit {run.returncode}, run {status}, {seconds:.1f} s, content "
                  f"{'identical' if now == reference else 'DIFFERENT'}{'' if ok else '  <- FAILED'}")
            if not ok:
                print(run.stderr.strip()[-2000:])
                return 1
    print(f"{args.times} imports of {args.file.name}: every run ended cleanly with identical content "
          f"({time.monotonic() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
