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
from litwatch.catalog import open_db

from conftest import FIXTURES, copy_store


@pytest.fixture
def dbfile(tmp_path, prebuilt):
    """The 128 recorded studies imported (once per test run; each test changes its own copy)."""
    studies = prebuilt("studies", lambda folder: api.import_paths(folder / "litwatch.db",
                                                                  [FIXTURES / "ctg-studies_dtx_psychiatric.json"]))
    return copy_store(studies, tmp_path)


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


@pytest.mark.slow
def test_export_sql_reads_the_schema_and_is_stopped_when_endless(dbfile):
    with open_db(dbfile, readonly=True) as db:
        columns, data = rows(db, sql="PRAGMA table_info(trials)")
        assert columns[:2] == ["cid", "name"] and data[0][1] == "nct_id"
        endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
        with pytest.raises(LitwatchError, match=r"ran longer than 0.5 s and was stopped"):
            rows(db, sql=endless, max_seconds=0.5)
        with pytest.raises(LitwatchError, match=r"more than 100 rows"):
            rows(db, sql="SELECT * FROM trial_locations", max_rows=100)


# Every field a Markdown report prints from a record, each holding markup (synthetic values
# written over real records): a marker names the field, so each is seen escaped in the report.
HOSTILE = "<script>alert(1)</script>[x](javascript:alert(1))"
FIELDS = {"articles": ["title", "journal", "journal_iso", "volume", "issue", "pages"],
          "article_authors": ["last_name", "fore_name", "initials", "collective_name"],
          "trials": ["brief_title", "acronym", "why_stopped", "lead_sponsor", "first_posted", "last_update_posted",
                     "results_first_posted", "primary_completion_date", "completion_date"],
          "trial_interventions": ["name"], "trial_outcomes": ["measure", "time_frame"], "trial_locations": ["country"]}


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory, dtx_store):
    from test_report import CONFIG

    path = copy_store(dtx_store, tmp_path_factory.mktemp("hostile"))  # SUBSET and STUDIES for DTX
    markers = {}
    with open_db(path) as db:
        for table, columns in FIELDS.items():
            for column in columns:
                marker = markers[f"{table}.{column}"] = f"F{len(markers)}Z"
                db.execute(f"UPDATE [{table}] SET [{column}] = coalesce([{column}], '') || ? || ?",
                           [f" {marker}", HOSTILE])
        # a quote (the sentence of an abstract that names a claim's outcome) and a registered
        # trial's outcome measure that names one
        db.execute("UPDATE articles SET abstract = replace(abstract, 'online/', ?)", [f"online Q0Z{HOSTILE} /"])
        db.execute("UPDATE trial_outcomes SET measure = measure || ?", [f" nightmare Q1Z{HOSTILE}"])
        markers.update(quote="Q0Z", outcome="Q1Z")
        db.commit()
    data = api.build_report(path, CONFIG)
    return markers, api.render_report(data, "md"), api.render_report(data, "md", section="summary")


@pytest.mark.slow
def test_the_markdown_report_escapes_markup_in_every_field_from_a_record(hostile_report):
    markers, md, summary = hostile_report
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;\\[x\\](javascript:alert(1))"
    for field in ("articles.title", "articles.journal_iso", "articles.volume", "articles.pages",
                  "article_authors.last_name", "article_authors.initials", "quote", "trials.brief_title",
                  "trials.first_posted", "trials.primary_completion_date", "trials.last_update_posted",
                  "trials.results_first_posted", "trials.lead_sponsor", "outcome", "trial_interventions.name",
                  "trial_locations.country"):
        assert f"{markers[field]}{escaped}" in md, field  # the field is in the report, as text
    for text in (md, summary):
        assert "<script" not in text and "](javascript:" not in text.replace("\\](javascript:", "")
