"""Nothing the source sent is lost: a parser fix reaches stored records through their raw
copies, without the network, and gives what a fresh import gives."""

import pytest
import sqlite3

from click.testing import CliRunner

import litwatch
from litwatch.cli import cli
from litwatch.config import DEFAULT_TOPIC, Config
from litwatch.sources.pubmed import parse
from litwatch.catalog import open_db
from litwatch.sync import import_file

from conftest import FIXTURES, SUBSET

SKIP = {"first_run_id", "changed_run_id", "seen_run_id", "live_run_id", "run_id", "id", "raw_block", "raw_offset",
        "derived_hash", "origin"}


def content(path):
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                         "AND name LIKE 'article%' AND name NOT LIKE '%_fts%'")]
    out = {}
    for t in tables:
        cols = [c[1] for c in conn.execute(f"PRAGMA table_info([{t}])") if c[1] not in SKIP]
        out[t] = sorted(conn.execute(f"SELECT {', '.join(f'[{c}]' for c in cols)} FROM [{t}]").fetchall(), key=repr)
    # The full-text index answers alike (its internal segments differ with the write history).
    out["search"] = conn.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'ketamine' "
                                 "ORDER BY rowid").fetchall()
    conn.close()
    return out


@pytest.mark.slow
def test_reparse_after_a_parser_fix_equals_a_fresh_import(tmp_path, monkeypatch):
    files = [SUBSET, FIXTURES / "pubmed21n1298_content_examples.xml"]
    # A parser that loses the references and the conflict-of-interest statements...
    original = parse._references
    monkeypatch.setattr(parse, "_references", lambda reference_list, out: None)
    old = tmp_path / "old.db"
    conn = open_db(old)
    for f in files:
        import_file(conn, f)
    conn.close()
    assert sqlite3.connect(old).execute("SELECT count(*) FROM article_references").fetchone() == (0,)
    # ...is fixed; the stored records are reparsed from their raw copies.
    monkeypatch.setattr(parse, "_references", original)
    result = CliRunner().invoke(cli, ["--db", str(old), "reparse", "--source", "pubmed"], env={"LITWATCH_DB": None})
    assert result.exit_code == 0, result.output
    assert "pubmed: 312 records reparsed from their raw copies" in result.output
    fresh = tmp_path / "fresh.db"
    litwatch.import_paths(fresh, files, Config(topics=(DEFAULT_TOPIC,)))
    assert sqlite3.connect(old).execute("SELECT count(*) FROM article_references").fetchone()[0] > 1000
    assert content(old) == content(fresh)


@pytest.mark.slow
def test_records_read_by_an_older_parser_are_pointed_to_reparse(tmp_path, caplog):
    from litwatch import api
    from litwatch.catalog import open_db

    db = tmp_path / "litwatch.db"
    api.import_paths(db, [SUBSET])
    with open_db(db) as conn:  # as a database written by the previous parser leaves it
        conn.execute("DELETE FROM settings WHERE key = 'parser:pubmed'")
        conn.commit()
    api.import_paths(db, [SUBSET])
    assert "PubMed records in this database were read by an older litwatch (parser version 1, now 2): run " \
           "`litwatch reparse`" in caplog.text
    caplog.clear()
    api.reparse(db)
    api.import_paths(db, [SUBSET])
    assert "older litwatch" not in caplog.text
