"""`litwatch serve` lets visitors read, nothing more: SQL functions that reach memory or files
(fts3_tokenizer in both forms, load_extension) are refused through Datasette's HTTP API,
while reading, searching and the canned queries go on as before. A damaged database is not
served."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from click.testing import CliRunner

from litwatch.cli import cli
from litwatch.datasette_plugin import harden
from litwatch.catalog import open_db
from litwatch.sync import import_file

from conftest import FIXTURES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sql(base: str, query: str) -> tuple[int, dict]:
    """Datasette's answer to a visitor's query: (HTTP status, JSON body)."""
    url = f"{base}.json?" + urllib.parse.urlencode({"sql": query, "_shape": "objects"})
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`litwatch serve` on a store of real records, started once for the module."""
    folder = tmp_path_factory.mktemp("serve")
    path = folder / "litwatch.db"
    db = open_db(path)
    import_file(db, FIXTURES / "pubmed21n1298_34094707.xml")
    db.close()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "litwatch", "--db", str(path), "serve", "--port", str(port)],
                            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={k: v for k, v in os.environ.items() if k != "LITWATCH_DEBUG"})
    base = f"http://127.0.0.1:{port}/litwatch"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}.json", timeout=2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield base
    proc.send_signal(signal.SIGTERM)  # litwatch ends Datasette with itself
    proc.wait(10)


TOKENIZER_CALLS = [
    "select fts3_tokenizer('simple')",  # a pointer into the process's memory
    "select fts3_tokenizer('simple', fts3_tokenizer('porter'))",  # overwrites a tokenizer (here, harmlessly)
    "SELECT FTS3_Tokenizer('simple')",
    "with t(x) as (select fts3_tokenizer('porter')) select hex(x) from t",
    "select 1 where exists (select fts3_tokenizer('simple'))",
]


@pytest.mark.slow
@pytest.mark.parametrize("query", TOKENIZER_CALLS)
def test_visitors_cannot_call_fts3_tokenizer(served, query):
    status, body = sql(served, query)
    assert status == 400 and "not authorized" in body["error"]


def test_visitors_cannot_load_an_extension(served):
    status, body = sql(served, "select load_extension('/tmp/no-such-library.so')")
    assert status == 400 and "not authorized" in body["error"]


def test_visitors_still_read_and_search(served):
    status, body = sql(served, "select pmid, title from articles")
    assert status == 200 and [r["pmid"] for r in body["rows"]] == [34094707]
    status, body = sql(served, "select count(*) as n from articles_fts where articles_fts match 'polycythemia'")
    assert status == 200 and body["rows"] == [{"n": 1}]


def test_the_authorizer_refuses_on_any_connection():
    """The rule itself, on an SQLite connection of this Python: both forms, in any case."""
    import sqlite3

    conn = sqlite3.connect(":memory:")
    assert conn.execute("select fts3_tokenizer('simple')").fetchone()[0]  # this SQLite has the function
    harden(conn)
    for query in TOKENIZER_CALLS:
        with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
            conn.execute(query)
    assert conn.execute("select lower('A'), date('2025-05-07')").fetchone() == ("a", "2025-05-07")


@pytest.mark.slow
def test_a_damaged_database_is_not_served(tmp_path, monkeypatch):
    path = tmp_path / "litwatch.db"
    db = open_db(path)
    import_file(db, FIXTURES / "pubmed21n1298_subset_ketamine_ptsd_ctgov.xml.gz")
    db.close()
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(size // 2 + 1000)
        f.write(bytes(range(256)) * 16)  # 4 KiB of garbage inside the file
    started = []
    monkeypatch.setattr(subprocess, "call", lambda command, **kw: started.append(command) or 0)  # never Datasette
    result = CliRunner().invoke(cli, ["--db", str(path), "serve", "--port", str(free_port())])
    assert started == [] and result.exit_code == 1
    (line,) = result.output.splitlines()
    assert line.startswith("Error: ") and "is damaged" in line and "quick_check" in line
    assert not path.with_suffix(".metadata.json").exists()  # stopped before anything was written
