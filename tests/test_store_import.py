"""Importing files into the store: idempotent upserts, revisions, deletions, formats."""

import gzip
import shutil

import pytest
import sqlite_utils

from litwatch.errors import ParseError, UnknownFormat
from litwatch.sync import import_file
from litwatch.sources.pubmed.schema import FAMILY as ARTICLES
from litwatch.catalog import schema

from conftest import FIXTURES, SUBSET
from conftest import count, get, rows, search

TABLES = schema().tables


def table_counts(db):
    return {name: count(db, name) for name in TABLES if name != "runs"}


def test_schema_has_keys_foreign_keys_and_full_text_search(db):
    db = sqlite_utils.Database(db)  # the schema as sqlite-utils and Datasette read it
    assert db.table("articles").pks == ["pmid"]
    for name in ARTICLES.children:
        assert [(fk.column, fk.other_table, fk.other_column) for fk in db.table(name).foreign_keys] == \
            [("pmid", "articles", "pmid")]
    assert db.table("articles").detect_fts() == "articles_fts"


@pytest.mark.slow
def test_importing_the_same_file_twice_changes_nothing(db):
    first = import_file(db, SUBSET)
    assert (first.counts.received, first.counts.new) == (304, 304)
    snapshot = table_counts(db)
    second = import_file(db, SUBSET)
    assert (second.counts.new, second.counts.updated, second.counts.unchanged) == (0, 0, 304)
    assert table_counts(db) == snapshot
    assert snapshot["article_authors"] > 1000 and snapshot["article_databanks"] >= 170


def test_full_text_search_finds_the_ketamine_ptsd_trial(db):
    import_file(db, SUBSET)
    hits = [r["pmid"] for r in search(db, "articles", "ketamine internet cognitive")]
    assert 34092549 in hits


def test_a_revised_record_replaces_its_child_rows(db, tmp_path):
    import_file(db, FIXTURES / "pubmed-29768149.xml")
    authors_before = count(db, "article_authors")
    revised = (FIXTURES / "pubmed-29768149.xml").read_text(encoding="utf-8")
    # Drop the last author: the same PMID comes back revised (a later DateRevised).
    start = revised.rindex("<Author ")
    end = revised.index("</Author>", start) + len("</Author>")
    revised = revised[:start] + revised[end:]
    dated = revised.index("<DateRevised>")
    year = revised.index("<Year>", dated) + len("<Year>")
    revised = revised[:year] + "2099" + revised[year + 4:]
    path = tmp_path / "revised_synthetic.xml"
    path.write_text(revised, encoding="utf-8")
    result = import_file(db, path)
    assert (result.counts.updated, result.counts.new) == (1, 0)
    assert count(db, "article_authors") == authors_before - 1
    row = get(db, "articles", 29768149)
    assert row["first_run_id"] == 1 and row["changed_run_id"] == 2


def test_update_file_gz_with_delete_citation(db):
    import_file(db, SUBSET)
    assert count(db, "articles") == 304
    result = import_file(db, FIXTURES / "delete_citation_synthetic.xml")
    assert result.counts.deleted == 2
    assert count(db, "articles") == 302
    for name in ARTICLES.children:
        assert db.execute(f"SELECT count(*) FROM [{name}] WHERE pmid IN (34092646, 34093274)").fetchone()[0] == 0
    assert list(search(db, "articles", "34092646")) == []


def test_medline_nbib_import(db):
    result = import_file(db, FIXTURES / "pubmed_export_blachlylab.nbib", topic="ibrutinib")
    assert result.counts.new == 2 and result.params["format"] == "medline"
    assert get(db, "articles", 28418267)["journal_iso"] == "J Clin Oncol"
    assert [r["topic"] for r in rows(db, "article_topics")] == ["ibrutinib", "ibrutinib"]


def test_book_records_are_skipped_and_counted(db):
    result = import_file(db, FIXTURES / "efetch.pubmedbook.xml")
    assert (result.counts.skipped, count(db, "articles")) == (1, 0)


def test_malformed_file_fails_clearly_and_keeps_earlier_data(db, tmp_path):
    import_file(db, SUBSET)
    body = gzip.decompress(SUBSET.read_bytes())
    broken = tmp_path / "broken.xml"
    broken.write_bytes(body[: len(body) // 2])
    with pytest.raises(ParseError, match="broken.xml"):
        import_file(db, broken)
    assert count(db, "articles") == 304
    assert db.execute("SELECT status FROM runs ORDER BY id DESC").fetchone()[0] == "failed"


def test_unknown_format_is_refused(db):
    with pytest.raises(UnknownFormat, match="not a PubmedArticleSet"):
        import_file(db, FIXTURES / "esearch_history.xml")
    assert count(db, "runs") == 0  # nothing was read, so no run


def test_truncated_gzip_is_a_parse_error(db, tmp_path):
    cut = tmp_path / "cut.xml.gz"
    shutil.copy(SUBSET, cut)
    with open(cut, "r+b") as f:
        f.truncate(300_000)
    with pytest.raises(ParseError):
        import_file(db, cut)
