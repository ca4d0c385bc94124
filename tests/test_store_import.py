"""Importing files into the store: idempotent upserts, revisions, deletions, formats."""

import gzip
import shutil

import pytest

from litwatch.errors import ParseError, UnknownFormat
from litwatch.ingest import import_file
from litwatch.store import ARTICLE_CHILDREN, TABLES

from conftest import FIXTURES, SUBSET


def table_counts(db):
    return {name: db.table(name).count for name in TABLES if name != "runs"}


def test_schema_has_keys_foreign_keys_and_full_text_search(db):
    assert db.table("articles").pks == ["pmid"]
    for name in ARTICLE_CHILDREN:
        assert [(fk.column, fk.other_table, fk.other_column) for fk in db.table(name).foreign_keys] == \
            [("pmid", "articles", "pmid")]
    assert db.table("articles").detect_fts() == "articles_fts"


def test_importing_the_same_file_twice_changes_nothing(db):
    first = import_file(db, SUBSET, workers=1)
    assert (first.counts.received, first.counts.new) == (304, 304)
    snapshot = table_counts(db)
    second = import_file(db, SUBSET, workers=1)
    assert (second.counts.new, second.counts.updated, second.counts.unchanged) == (0, 0, 304)
    assert table_counts(db) == snapshot
    assert snapshot["article_authors"] > 1000 and snapshot["article_databanks"] >= 170


def test_full_text_search_finds_the_ketamine_ptsd_trial(db):
    import_file(db, SUBSET, workers=1)
    hits = [r["pmid"] for r in db.table("articles").search("ketamine internet cognitive")]
    assert 34092549 in hits


def test_a_revised_record_replaces_its_child_rows(db, tmp_path):
    import_file(db, FIXTURES / "pubmed-29768149.xml")
    authors_before = db.table("article_authors").count
    revised = (FIXTURES / "pubmed-29768149.xml").read_text(encoding="utf-8")
    # Drop the last author: the same PMID comes back revised.
    start = revised.rindex("<Author ")
    end = revised.index("</Author>", start) + len("</Author>")
    path = tmp_path / "revised_synthetic.xml"
    path.write_text(revised[:start] + revised[end:], encoding="utf-8")
    result = import_file(db, path)
    assert (result.counts.updated, result.counts.new) == (1, 0)
    assert db.table("article_authors").count == authors_before - 1
    row = db.table("articles").get(29768149)
    assert row["first_run_id"] == 1 and row["changed_run_id"] == 2


def test_update_file_gz_with_delete_citation(db):
    import_file(db, SUBSET)
    assert db.table("articles").count == 304
    result = import_file(db, FIXTURES / "delete_citation_synthetic.xml")
    assert result.counts.deleted == 2
    assert db.table("articles").count == 302
    for name in ARTICLE_CHILDREN:
        assert db.execute(f"SELECT count(*) FROM [{name}] WHERE pmid IN (34092646, 34093274)").fetchone()[0] == 0
    assert list(db.table("articles").search("34092646")) == []


def test_parallel_import_stores_exactly_what_serial_import_stores(tmp_path):
    import subprocess
    import sys

    from litwatch.store import open_db
    serial = open_db(tmp_path / "s.db")
    import_file(serial, SUBSET, workers=1)
    # A fresh process: the test runner may hold threads, and litwatch never forks then.
    code = ("import sys; from litwatch import ingest; from litwatch.store import open_db; "
            "ingest.PIECE_BYTES = 200_000; r = ingest.import_file(open_db(sys.argv[1]), sys.argv[2], workers=2); "
            "print(r.params['workers'], r.counts.new)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "p.db"), str(SUBSET)],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["2", "304"]
    parallel = open_db(tmp_path / "p.db")
    for name in ["articles", *ARTICLE_CHILDREN]:
        query = f"SELECT * FROM [{name}] ORDER BY 1, 2, 3"
        assert serial.execute(query).fetchall() == parallel.execute(query).fetchall()


def test_no_fork_while_other_threads_run(db):
    import threading
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        result = import_file(db, SUBSET, workers=2)
    finally:
        stop.set()
        thread.join()
    assert result.params["workers"] == 1 and result.counts.new == 304


def test_medline_nbib_import(db):
    result = import_file(db, FIXTURES / "pubmed_export_blachlylab.nbib", topic="ibrutinib")
    assert result.counts.new == 2 and result.params["format"] == "medline"
    assert db.table("articles").get(28418267)["journal_iso"] == "J Clin Oncol"
    assert [r["topic"] for r in db.table("article_topics").rows] == ["ibrutinib", "ibrutinib"]


def test_book_records_are_skipped_and_counted(db):
    result = import_file(db, FIXTURES / "efetch.pubmedbook.xml")
    assert (result.counts.skipped, db.table("articles").count) == (1, 0)


def test_malformed_file_fails_clearly_and_keeps_earlier_data(db, tmp_path):
    import_file(db, SUBSET)
    body = gzip.decompress(SUBSET.read_bytes())
    broken = tmp_path / "broken.xml"
    broken.write_bytes(body[: len(body) // 2])
    with pytest.raises(ParseError, match="broken.xml"):
        import_file(db, broken, workers=1)
    assert db.table("articles").count == 304
    assert db.execute("SELECT status FROM runs ORDER BY id DESC").fetchone()[0] == "failed"


def test_unknown_format_is_refused(db):
    with pytest.raises(UnknownFormat, match="not a PubmedArticleSet"):
        import_file(db, FIXTURES / "esearch_history.xml")
    assert db.table("runs").count == 0  # nothing was read, so no run


def test_truncated_gzip_is_a_parse_error(db, tmp_path):
    cut = tmp_path / "cut.xml.gz"
    shutil.copy(SUBSET, cut)
    with open(cut, "r+b") as f:
        f.truncate(300_000)
    with pytest.raises(ParseError):
        import_file(db, cut, workers=1)
