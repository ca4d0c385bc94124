"""What litwatch writes cannot be turned against its user: reports and exports replace the
previous file whole or not at all, the lock file is never followed through a symlink, and
`export --sql` only reads."""

import errno
import os

import pytest
from click.testing import CliRunner

from litwatch import api
from litwatch.cli import cli
from litwatch.errors import LitwatchError
from litwatch.exports import rows
from litwatch.store import open_db

from conftest import FIXTURES


@pytest.fixture
def dbfile(tmp_path):
    path = tmp_path / "litwatch.db"
    api.import_paths(path, [FIXTURES / "ctg-studies_dtx_psychiatric.json"])
    return path


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_a_report_that_cannot_be_written_leaves_the_previous_one_intact(dbfile, tmp_path, monkeypatch):
    out = tmp_path / "report.html"
    assert run("--db", dbfile, "report", "--format", "html", "-o", out).exit_code == 0
    before = out.read_bytes()

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr("litwatch.files.os.fsync", full_disk)
    result = run("--db", dbfile, "report", "--format", "md", "-o", out)
    assert result.exit_code == 1
    assert result.output == f"Error: cannot write {out}: No space left on device; the previous file is unchanged\n"
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if "report" in p.name] == ["report.html"]  # no temporary file


def test_an_export_is_written_whole_or_not_at_all(dbfile, tmp_path, monkeypatch):
    out = tmp_path / "trials.csv"
    out.write_text("previous export\n")
    monkeypatch.setattr("litwatch.files.os.replace", lambda *a: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    result = run("--db", dbfile, "export", "trials", "-o", out)
    assert result.exit_code == 1 and out.read_text() == "previous export\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_written_report_keeps_the_permissions_of_the_one_it_replaces(dbfile, tmp_path):
    out = tmp_path / "report.md"
    out.write_text("old")
    os.chmod(out, 0o640)
    assert run("--db", dbfile, "report", "-o", out).exit_code == 0
    assert oct(out.stat().st_mode & 0o777) == "0o640" and out.read_text().startswith("# Ongoing research")


def test_the_lock_file_is_never_followed_through_a_symlink(dbfile, tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("do not truncate me\n")
    os.unlink(f"{dbfile}.lock")  # left by the import that made the database
    os.symlink(victim, f"{dbfile}.lock")
    result = run("--db", dbfile, "import", FIXTURES / "pubmed-29768149.xml")
    assert result.exit_code == 1 and "is a symbolic link" in result.output
    assert len(result.output.splitlines()) == 1 and victim.read_text() == "do not truncate me\n"


@pytest.mark.parametrize("sql", [
    "VACUUM INTO '{copy}'",
    "ATTACH DATABASE '{copy}' AS other",
    "PRAGMA journal_mode = DELETE",
    "DELETE FROM trials",
    "SELECT load_extension('/tmp/x')",
])
def test_export_sql_only_reads(dbfile, tmp_path, sql):
    copy = tmp_path / "copy.db"
    result = run("--db", dbfile, "export", "--sql", sql.format(copy=copy))
    assert result.exit_code == 1
    assert result.output == ("Error: the query does more than read (ATTACH, VACUUM, PRAGMA, writes and extensions "
                             "are refused)\n")
    assert not copy.exists()
    with open_db(dbfile, readonly=True) as db:
        assert db.execute("SELECT count(*) FROM trials").fetchone() == (128,)


def test_export_sql_reads_the_schema_and_is_stopped_when_endless(dbfile):
    with open_db(dbfile, readonly=True) as db:
        columns, data = rows(db, sql="PRAGMA table_info(trials)")
        assert columns[:2] == ["cid", "name"] and data[0][1] == "nct_id"
        endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
        with pytest.raises(LitwatchError, match=r"ran longer than 0.5 s and was stopped"):
            rows(db, sql=endless, max_seconds=0.5)
        with pytest.raises(LitwatchError, match=r"more than 100 rows"):
            rows(db, sql="SELECT * FROM trial_locations", max_rows=100)
