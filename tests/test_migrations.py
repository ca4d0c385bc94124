"""A database made by the first release (litwatch 0.1.0) opens, upgrades in place and loses
nothing; a database from a newer litwatch, or a foreign one, is refused untouched."""

import gzip
import sqlite3

import pytest
from click.testing import CliRunner

import litwatch
from litwatch.cli import cli
from litwatch.config import DEFAULT_TOPIC, Config
from litwatch.catalog import open_db
from litwatch.store import SCHEMA_VERSION, SchemaError
from litwatch.sync import import_file

from conftest import FIXTURES

RELEASE = FIXTURES / "litwatch_0.1.0_release.db.gz"


@pytest.fixture
def old_db(tmp_path):
    path = tmp_path / "old.db"
    path.write_bytes(gzip.decompress(RELEASE.read_bytes()))
    return path


def snapshot(path):
    """Every row of every table of the first release's schema, by column name."""
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                         "AND name NOT LIKE '%_fts%' AND name != 'article_trial_links'")]
    out = {}
    for t in tables:
        cursor = conn.execute(f"SELECT * FROM [{t}]")
        names = [d[0] for d in cursor.description]
        out[t] = sorted((tuple(zip(names, row, strict=True)) for row in cursor), key=repr)
    conn.close()
    return out


def test_the_first_releases_database_upgrades_without_loss(old_db):
    before = snapshot(old_db)
    assert sqlite3.connect(old_db).execute("PRAGMA user_version").fetchone() == (0,)
    conn = open_db(old_db)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()
    after = snapshot(old_db)
    for table, rows in before.items():
        # derived_hash is emptied on purpose: designs are derived again by the new rules.
        old_columns = {name for name, _ in rows[0]} - {"derived_hash"} if rows else set()
        kept = sorted((tuple(pair for pair in row if pair[0] in old_columns) for row in after[table]), key=repr)
        rows = sorted((tuple(pair for pair in row if pair[0] in old_columns) for row in rows), key=repr)
        assert kept == rows, table  # every row, every value of every column it had
    assert len(before["articles"]) == 3 and len(before["trial_changes"]) == 5


def test_the_upgraded_database_is_used_as_any_other(old_db, tmp_path):
    result = CliRunner().invoke(cli, ["--db", str(old_db), "report"])  # read-only: asks for the upgrade
    assert result.exit_code == 1 and "litwatch migrate" in result.output
    result = CliRunner().invoke(cli, ["--db", str(old_db), "migrate"])
    assert result.exit_code == 0 and f"schema version {SCHEMA_VERSION}" in result.output
    conn = open_db(old_db)
    assert conn.execute("SELECT count(*) FROM paper_trial_links").fetchone()[0] > 0  # rebuilt by the evidence
    # The XML of a record stored by 0.1.0 (which kept none) replaces it: same revision, whole copy.
    again = import_file(conn, FIXTURES / "pubmed-29768149.xml")
    assert again.counts.updated == 1
    assert conn.execute("SELECT raw_block IS NOT NULL FROM articles WHERE pmid = 29768149").fetchone() == (1,)
    conn.close()
    data = litwatch.build_report(old_db, Config(topics=(DEFAULT_TOPIC,)))
    with open_db(old_db, readonly=True) as conn:
        levels = dict(conn.execute("SELECT relevance, count(*) FROM trial_topics GROUP BY 1").fetchall())
    assert levels == {"condition": 4}  # the release stored four PTSD trials, none of them of ketamine
    assert (data["counts"]["trials"], data["counts"]["related_trials"]) == (0, 4)


def test_a_database_from_a_newer_litwatch_is_refused_untouched(old_db):
    open_db(old_db).close()
    conn = sqlite3.connect(old_db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = old_db.read_bytes()
    with pytest.raises(SchemaError, match="written by a newer litwatch"):
        open_db(old_db)
    assert old_db.read_bytes() == before


def test_a_foreign_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "notes.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text)")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaError, match="not a litwatch one"):
        open_db(path)
    result = CliRunner().invoke(cli, ["--db", str(path), "import", str(FIXTURES / "pubmed-29768149.xml")])
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
