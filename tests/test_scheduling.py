"""Unattended runs: no overlap, a kill at any moment recovers, hostile XML refused."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from litwatch import evidence
from litwatch.cli import cli
from litwatch.config import DEFAULT_TOPIC, Config
from litwatch.sources.ctgov.client import CtgovClient
from litwatch.errors import ParseError, UnknownFormat
from litwatch.http import HttpClient
from litwatch.sync import import_file
from litwatch.lock import RunLock
from litwatch.sources.pubmed.client import PubMedClient
from litwatch.catalog import open_db
from litwatch.store.raw import raw_records
from litwatch.catalog import schema

from ctgov_standin import CtgovStandin, load_studies
from eutils_standin import EutilsStandin
from standin_server import serve
from conftest import SUBSET as SUBSET_PATH
from conftest import FIXTURES, count, exited, fetch_ctgov, fetch_pubmed, within

TABLES = schema().tables

# Run numbers differ between histories, and so does where a record's raw copy sits in the
# archive (raw_block, raw_offset): its bytes are compared instead.
RUN_COLUMNS = {"first_run_id", "changed_run_id", "seen_run_id", "live_run_id", "run_id", "id", "raw_block",
               "raw_offset"}
# The run log and what it derives (gaps, flags) differ between histories by design.
CONTENT_TABLES = [t for t in TABLES if t not in ("runs", "reports", "raw_blocks", "settings", "monitoring_gaps",
                                                 "left_search")]


def content(path):
    """Every stored row, without the run numbers that differ between histories."""
    conn = sqlite3.connect(path)
    out = {}
    for table in CONTENT_TABLES:
        cols = [c[1] for c in conn.execute(f"PRAGMA table_info([{table}])") if c[1] not in RUN_COLUMNS]
        out[table] = sorted(conn.execute(f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM [{table}]").fetchall(),
                            key=repr)
    out["raw"] = sorted(raw_records(conn, "articles", "pmid"))
    conn.close()
    return out


@pytest.mark.slow
def test_second_concurrent_run_exits_with_a_clear_message(tmp_path):
    db = tmp_path / "litwatch.db"
    with RunLock(db):
        result = CliRunner().invoke(cli, ["--db", str(db), "fetch", "--wait", "0.5"])
        assert result.exit_code == 75
        assert "another litwatch run (pid" in result.output and "--wait" in result.output
    assert not (tmp_path / "litwatch.db.lock").read_text()  # released and cleared


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted(tmp_path):
    db = open_db(tmp_path / "litwatch.db")
    db.execute("INSERT INTO runs (topic, source, kind, started_at, status) VALUES ('t', 'pubmed', 'fetch', "
               "'2026-01-01T00:00:00Z', 'running')")
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "litwatch.db"), "import",
                                      str(Path(__file__).parent / "fixtures" / "pubmed-29768149.xml")])
    assert result.exit_code == 0
    assert db.execute("SELECT status, error FROM runs WHERE id = 1").fetchone() == (
        "interrupted", "the process ended before the run finished")


@pytest.mark.slow
def test_killed_run_then_normal_run_equals_one_uninterrupted_run(tmp_path, real_records):
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    eutils = EutilsStandin(real_records)
    ctgov = CtgovStandin(load_studies(), page_size=20)  # 7 pages at 1 request/s
    with serve(eutils.handle, "/eutils") as eu, serve(lambda p, q: ctgov.handle(q), "/api/v2") as ct:
        # Reference: one uninterrupted run, in process.
        ref = tmp_path / "reference.db"
        db = open_db(ref)
        fast = lambda: HttpClient(per_second=0)  # noqa: E731
        config = Config(urls={"pubmed": eu, "ctgov": ct})
        fetch_pubmed(db, config, DEFAULT_TOPIC, client=PubMedClient(fast(), eu))
        fetch_ctgov(db, config, DEFAULT_TOPIC, client=CtgovClient(fast(), ct))
        evidence.refresh(db, config.topics)
        db.close()
        # A real process, killed at a random moment, then a normal run.
        path = tmp_path / "killed.db"
        env = dict(os.environ, LITWATCH_EUTILS_URL=eu, LITWATCH_CTGOV_URL=ct)
        command = [sys.executable, "-m", "litwatch", "--db", str(path), "fetch", "--no-follow", "--source", "pubmed",
                   "--source", "ctgov"]
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 5.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # The page size is the service's choice: the rerun gets every study on one page (paced
        # at 1 request/s, 20 a page would make 7 pages, and 7 more to list the IDs).
        ctgov.page_size = len(ctgov.studies)
        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, (seed, rerun.stderr)
    assert content(path) == content(ref), f"seed {seed}"
    with sqlite3.connect(path) as conn:  # the killed fetch's gap, if it left one, is covered and closed
        assert conn.execute("SELECT count(*) FROM monitoring_gaps WHERE closed_run_id IS NULL").fetchone() == (0,)
    statuses = [r[0] for r in sqlite3.connect(path).execute("SELECT status FROM runs ORDER BY id")]
    assert statuses[-2:] == ["success", "success"] and set(statuses[:-2]) <= {"interrupted", "success"}


def big_pubmed_file(path: Path, copies: int) -> Path:
    """The 304 real records of the subset, ``copies`` times over (later copies are repeats:
    the work of parsing and comparing stays, the content does not grow)."""
    import gzip as gz

    from conftest import SUBSET
    body = gz.decompress(SUBSET.read_bytes())
    start, end = body.index(b"<PubmedArticle>"), body.rindex(b"</PubmedArticle>") + len(b"</PubmedArticle>")
    path.write_bytes(body[:start] + body[start:end] * copies + body[end:])
    return path


@pytest.mark.slow
def test_sigterm_stops_an_import_within_a_second_and_a_rerun_completes_it(tmp_path):
    source = big_pubmed_file(tmp_path / "repeats.xml", 30)  # 9,120 records: a few seconds
    db_path = tmp_path / "litwatch.db"
    command = [sys.executable, "-m", "litwatch", "--db", str(db_path), "import", str(source)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until the run is under way
        time.sleep(0.1)
        if db_path.exists() and sqlite3.connect(db_path).execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'runs'").fetchone()[0] and sqlite3.connect(
                db_path).execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0]:
            break
    time.sleep(0.5)
    with within(1.0, process=proc):
        proc.send_signal(signal.SIGTERM)
        exited(proc)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert sqlite3.connect(db_path).execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    fresh = tmp_path / "fresh.db"
    from litwatch import api
    api.import_paths(fresh, [SUBSET_PATH])
    assert content(db_path) == content(fresh)


@pytest.mark.slow
def test_importing_the_same_file_many_times_ends_cleanly_with_identical_content(tmp_path):
    db_path = tmp_path / "litwatch.db"
    first = CliRunner().invoke(cli, ["--db", str(db_path), "import", str(SUBSET_PATH)])
    assert first.exit_code == 0
    reference = content(db_path)
    for _ in range(8):
        again = CliRunner().invoke(cli, ["--db", str(db_path), "import", str(SUBSET_PATH)])
        assert again.exit_code == 0 and "(0 new, 0 updated, 304 unchanged, 0 deleted, 0 skipped)" in again.output
        assert content(db_path) == reference
    statuses = sqlite3.connect(db_path).execute("SELECT status, count(*) FROM runs GROUP BY 1").fetchall()
    assert statuses == [("success", 9)]


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE PubmedArticleSet [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle>&lol9;</ArticleTitle>
</Article></MedlineCitation></PubmedArticle></PubmedArticleSet>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE PubmedArticleSet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>2</PMID><Article><ArticleTitle>&xxe;</ArticleTitle>
</Article></MedlineCitation></PubmedArticle></PubmedArticleSet>
"""


@pytest.mark.parametrize("name,body", [("bomb_synthetic.xml", BOMB), ("xxe_synthetic.xml", XXE)])
def test_entity_attacks_are_refused(db, tmp_path, name, body):
    path = tmp_path / name
    path.write_bytes(body)
    with pytest.raises(ParseError, match="declares XML entities|entity amplification"):
        import_file(db, path)  # refused by litwatch, or by libxml2's own bomb guard
    assert count(db, "articles") == 0
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "cli.db"), "import", str(path)])
    assert result.exit_code == 1 and "root:" not in result.output  # /etc/passwd never read


def test_binary_and_oversized_input_is_refused(db, tmp_path, monkeypatch):
    binary = tmp_path / "random.bin"
    binary.write_bytes(bytes(range(256)) * 100)
    with pytest.raises(UnknownFormat, match="not PubMed XML, MEDLINE text or JSON"):
        import_file(db, binary)
    study = tmp_path / "study.json"  # a single study object (as /api/v2/studies/NCT... answers) is read whole
    study.write_text(json.dumps(json.loads((FIXTURES / "ctg-study_NCT00162175_full_vsuptl.json").read_text())[0]))
    monkeypatch.setattr("litwatch.sources.ctgov.parse.MAX_JSON_BYTES", 1000)
    with pytest.raises(ParseError, match="a JSON object larger than"):
        import_file(db, study)


def test_a_run_that_died_is_closed_with_the_counts_of_what_it_stored(tmp_path):
    db_path = tmp_path / "litwatch.db"
    from litwatch import api
    api.import_paths(db_path, [SUBSET_PATH])
    with open_db(db_path) as db:  # as a kill -9 mid-run leaves it: the rows stored, the run row not finished
        db.execute("UPDATE runs SET status = 'running', received = 0, new = 0, finished_at = NULL WHERE id = 1")
        db.commit()
    api.import_paths(db_path, [FIXTURES / "pubmed-29768149.xml"])
    with open_db(db_path) as db:
        assert db.execute("SELECT status, received, new FROM runs WHERE id = 1").fetchone() == ("interrupted", 304, 304)
