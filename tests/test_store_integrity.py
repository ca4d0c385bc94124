"""Which copy of a record the store keeps: the newest, whatever the order of arrival, on real
records; deletions that stick; re-imports that change nothing."""

import gzip
import json

import pytest

from litwatch.sources import get as source
from litwatch.sources.base import Batch
from litwatch.catalog import open_db
from litwatch.store import query
from litwatch.sync import import_file

from conftest import FIXTURES, SUBSET, count, get, rows

PUBMED = source("pubmed")


def revised(db, pmid):
    return db.execute("SELECT date_revised FROM articles WHERE pmid = ?", [pmid]).fetchone()[0]


@pytest.mark.parametrize("older,newer,pmid,old_date,new_date", [
    ("efetch_9997_revised_2003.xml", "efetch_9997_revised_2019.xml", 9997, "2003-11-14", "2019-06-09"),
    ("pubmed21n1298_34094707.xml", "efetch_34094707_revised_2025.xml", 34094707, "2021-06-07", "2025-05-30"),
])
def test_the_newer_revision_wins_in_either_order(db, older, newer, pmid, old_date, new_date):
    """Two real overlaps of the shared files: an older copy never replaces a newer one."""
    import_file(db, FIXTURES / older)
    assert revised(db, pmid) == old_date
    result = import_file(db, FIXTURES / newer)
    assert revised(db, pmid) == new_date and result.counts.updated >= 1
    back = import_file(db, FIXTURES / older)  # a backfill brings the old copy again
    assert revised(db, pmid) == new_date
    assert back.counts.updated == 0 and back.counts.skipped == 1  # counted as skipped, not updated
    changed = db.execute("SELECT changed_run_id FROM articles WHERE pmid = ?", [pmid]).fetchone()[0]
    assert changed == result.run_id


def test_the_older_copy_first_then_the_newer_one(db):
    import_file(db, FIXTURES / "efetch_34094707_revised_2025.xml")
    import_file(db, FIXTURES / "pubmed21n1298_34094707.xml")
    assert revised(db, 34094707) == "2025-05-30"
    refs = db.execute("SELECT count(*) FROM article_references WHERE pmid = 34094707").fetchone()[0]
    assert refs == 14  # the 2025 copy's reference list, kept


def test_a_deleted_record_stays_deleted_when_an_older_file_holds_it(db):
    import_file(db, SUBSET)
    assert import_file(db, FIXTURES / "delete_citation_synthetic.xml").counts.deleted == 2
    again = import_file(db, SUBSET)  # a backfill of the file that still holds them
    assert count(db, "articles") == 302
    assert again.counts.skipped == 2 and again.counts.new == 0
    tombstones = {r[0] for r in db.execute("SELECT pmid FROM article_deletions")}
    assert len(tombstones) == 22 and {34092646, 34093274} <= tombstones  # with the subset's own 20


def test_a_copy_revised_after_the_deletion_brings_the_record_back(db, tmp_path):
    import_file(db, SUBSET)
    import_file(db, FIXTURES / "delete_citation_synthetic.xml")
    body = gzip.decompress(SUBSET.read_bytes())
    start = body.index(b"<PubmedArticle>", body.index(b">34092646</PMID>") - 200)
    end = body.index(b"</PubmedArticle>", start) + len(b"</PubmedArticle>")
    record = body[start:end]
    later = record.replace(b"<DateRevised>", b"<DateRevised><!--derived-->", 1)
    cut = later.index(b"<Year>", later.index(b"<DateRevised>"))
    later = later[:cut] + b"<Year>2099</Year>" + later[later.index(b"</Year>", cut) + 7:]
    path = tmp_path / "revised_after_deletion_derived.xml"
    path.write_bytes(b"<PubmedArticleSet>" + later + b"</PubmedArticleSet>")
    result = import_file(db, path)
    assert result.counts.new == 1 and get(db, "articles", 34092646)["date_revised"].startswith("2099")
    assert db.execute("SELECT count(*) FROM article_deletions WHERE pmid = 34092646").fetchone() == (0,)


def test_a_deletion_is_dated_by_the_file_that_announced_it(db):
    """A DeleteCitation after records is as recent as their newest revision: copies revised
    before it stay deleted, whatever day the file is imported."""
    batch = Batch(records=[], deletes=[34092646], as_of="2021-06-08")
    PUBMED.save(db, batch, run_id=None, topic=None, origin="import")
    assert db.execute("SELECT as_of FROM article_deletions").fetchone() == ("2021-06-08",)
    result = import_file(db, SUBSET)  # its copy was revised 2021-06-07 or before
    assert result.counts.skipped == 1 and count(db, "articles") == 303


def test_versioned_pmids_keep_the_highest_version_and_count_once(db):
    """Real update-file records with several versions (PMID 30271887 in versions 2-4...)."""
    first = import_file(db, FIXTURES / "pubmed21n1298_versioned_pmids.xml")
    versions = dict(db.execute("SELECT pmid, pmid_version FROM articles"))
    assert versions == {30271887: 4, 33728380: 2, 34017925: 2}
    assert (first.counts.received, first.counts.new, first.counts.repeated) == (3, 3, 5)
    again = import_file(db, FIXTURES / "pubmed21n1298_versioned_pmids.xml")
    c = again.counts
    assert (c.received, c.new, c.updated, c.repeated) == (3, 0, 0, 5)  # a no-op, counted exactly
    assert db.execute("SELECT max(changed_run_id) FROM articles").fetchone()[0] == first.run_id


@pytest.mark.slow
def test_importing_the_same_file_again_moves_nothing(db):
    first = import_file(db, SUBSET)
    before = db.execute("SELECT pmid, changed_run_id, record_hash FROM articles ORDER BY pmid").fetchall()
    second = import_file(db, SUBSET)
    assert (second.counts.received, second.counts.unchanged, second.counts.updated) == (304, 304, 0)
    assert db.execute("SELECT pmid, changed_run_id, record_hash FROM articles ORDER BY pmid").fetchall() == before
    assert first.run_id != second.run_id


def test_a_medline_text_copy_ranks_below_the_xml_copy_of_the_same_revision():
    """No shared file holds one record in both forms; the rule is checked on a real XML
    record and the same values without their XML (as a MEDLINE text export gives them)."""
    from litwatch.sources.pubmed.parse import parse_xml_bytes
    from litwatch.store.merge import Verdict, verdict

    (event,) = parse_xml_bytes((FIXTURES / "pubmed-29768149.xml").read_bytes())
    xml = event.record
    text = xml._replace(raw=None, digest="0" * 32)
    writer = PUBMED.writer

    def weigh(incoming, stored):
        return verdict((writer.recency(incoming), writer.recency(stored)), (writer.shape(incoming),
                       writer.shape(stored)), writer.full_shape, (writer.says(incoming), writer.says(stored)),
                       (incoming.digest, stored.digest))
    assert weigh(text, xml) is Verdict.UNDER_STORED  # kept: the stored XML copy (PubMed copies are whole)
    assert weigh(xml, text) is Verdict.OVER_STORED  # taken: the XML copy over the text one
    assert weigh(xml, xml) is Verdict.KEEP


# ---------------------------------------------------------------- ClinicalTrials.gov --

CTGOV = source("ctgov")


def holders(db):
    return dict(db.execute("SELECT nct_id, version_holder FROM trials"))


@pytest.mark.parametrize("order", ["older first", "newer first"])
def test_two_real_downloads_of_the_same_studies_keep_the_newer_data_version(db, order, caplog):
    """Two website downloads of the same 10 studies, a day apart (versionHolder 2023-06-28
    and 2023-06-29), with the same last-update dates."""
    older = FIXTURES / "ctg-studies_dgg32_version_2023-06-28.json"
    newer = FIXTURES / "ctg-studies_dgg32_version_2023-06-29_subset.json"
    files = [older, newer] if order == "older first" else [newer, older]
    first = import_file(db, files[0])
    second = import_file(db, files[1])
    assert set(holders(db).values()) == {"2023-06-29"}
    if order == "older first":
        assert second.counts.updated == 10
    else:
        assert (second.counts.skipped, second.counts.updated) == (10, 0)  # truly older: refused
    assert first.counts.new == 10


def test_equal_copies_are_unchanged_without_warnings(db, caplog):
    import_file(db, FIXTURES / "ctg-studies_dtx_psychiatric.json")
    caplog.clear()
    again = import_file(db, FIXTURES / "ctg-studies_dtx_psychiatric.json")
    assert (again.counts.unchanged, again.counts.skipped, again.counts.updated) == (128, 0, 0)
    assert "newer than the copies received" not in caplog.text


def test_a_newer_field_limited_copy_fills_what_it_has_and_keeps_what_it_lacks(db, tmp_path):
    """A copy of a real study as a field-limited query returns it: identification and status
    modules only, a later update (derived from NCT05305235, named so)."""
    import_file(db, FIXTURES / "ctg-studies_dtx_psychiatric.json")
    study = next(s for s in json.loads((FIXTURES / "ctg-studies_dtx_psychiatric.json").read_text())
                 if s["protocolSection"]["identificationModule"]["nctId"] == "NCT05305235")
    before = {t: db.execute(f"SELECT count(*) FROM {t} WHERE nct_id = 'NCT05305235'").fetchone()[0]
              for t in ("trial_locations", "trial_outcomes", "trial_arms")}
    status = dict(study["protocolSection"]["statusModule"], overallStatus="TERMINATED",
                  lastUpdatePostDateStruct={"date": "2030-01-15", "type": "ACTUAL"})
    limited = {"protocolSection": {"identificationModule": study["protocolSection"]["identificationModule"],
                                   "statusModule": status}}
    path = tmp_path / "NCT05305235_field_limited_derived.json"
    path.write_text(json.dumps([limited]))
    result = import_file(db, path)
    assert result.counts.updated == 1
    row = get(db, "trials", "NCT05305235")
    assert row["overall_status"] == "TERMINATED" and row["last_update_posted"] == "2030-01-15"
    after = {t: db.execute(f"SELECT count(*) FROM {t} WHERE nct_id = 'NCT05305235'").fetchone()[0]
             for t in before}
    assert after == before and all(before.values())  # sites, outcomes and arms kept
    assert len(row["raw"]) > len(path.read_text())
    changes = query(db, "SELECT field, old_value, new_value FROM trial_changes WHERE run_id = ?", [result.run_id])
    assert changes == [{"field": "overall_status", "old_value": "COMPLETED", "new_value": "TERMINATED"}]


def test_an_undated_field_limited_download_changes_nothing(db, caplog):
    """The same study twice from real downloads: whole (dated, with its data version), then
    field-limited without dates (vsuptl/JSON_conversion)."""
    import_file(db, FIXTURES / "ctg-study_NCT00162175_full_vsuptl.json")
    before = query(db, "SELECT * FROM trials")
    children = db.execute("SELECT count(*) FROM trial_outcomes").fetchone()
    result = import_file(db, FIXTURES / "ctg-studies_field_limited.json")
    assert (result.counts.unchanged, result.counts.updated) == (1, 0)  # it says nothing the stored copy lacks
    assert query(db, "SELECT * FROM trials") == [dict(before[0], seen_run_id=result.run_id)]
    assert db.execute("SELECT count(*) FROM trial_outcomes").fetchone() == children
    assert db.execute("SELECT count(*) FROM trial_changes WHERE run_id = ?", [result.run_id]).fetchone() == (0,)


# A real study (NCT05305235, completed, results posted 2025-03-05) and copies of it edited to
# be what an older or a field-limited query would return (named for the edit, see PROVENANCE).
STUDY = FIXTURES / "ctg-study_NCT05305235.json"
OLDER = FIXTURES / "ctg-study_NCT05305235_older_derived.json"  # recruiting, 2023-06-15, no results
LIMITED = FIXTURES / "ctg-study_NCT05305235_field_limited_derived.json"  # same date, two modules
LIMITED_OLDER = FIXTURES / "ctg-study_NCT05305235_field_limited_older_derived.json"


def stored(db) -> dict[str, list[dict]]:
    """Everything the store holds but the runs and the mark of the run that last saw a record."""
    tables = [name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%fts%' AND name != 'runs'")]
    return {t: [{k: v for k, v in row.items() if k != "seen_run_id"} for row in rows(db, t)] for t in tables}


@pytest.mark.parametrize("copy,counted", [(OLDER, "skipped"), (LIMITED_OLDER, "skipped"), (LIMITED, "unchanged")])
def test_an_older_or_field_limited_copy_of_a_stored_study_changes_nothing(db, copy, counted):
    """An older copy (whole or field-limited) is refused; a field-limited copy of the stored
    date holds nothing new. Rows, children, raw copy, change history and changed_run_id stay."""
    first = import_file(db, STUDY)
    before = stored(db)
    assert before["trial_changes"] == [dict(id=1, nct_id="NCT05305235", run_id=first.run_id, field="new",
                                            old_value=None, new_value="COMPLETED", last_update_posted="2025-03-05")]
    result = import_file(db, copy)
    assert (result.counts.received, getattr(result.counts, counted)) == (1, 1)
    assert stored(db) == before
    row = get(db, "trials", "NCT05305235")
    assert (row["changed_run_id"], row["seen_run_id"]) == (first.run_id, result.run_id)
    assert json.loads(row["raw"]) == json.loads(STUDY.read_text())[0]


def test_the_older_copy_first_is_replaced_with_its_changes_recorded(db):
    """The other order, so the copies above are shown to differ where it matters."""
    import_file(db, OLDER)
    newer = import_file(db, STUDY)
    assert newer.counts.updated == 1
    assert query(db, "SELECT field, old_value, new_value FROM trial_changes WHERE run_id = ?", [newer.run_id]) == [
        {"field": "overall_status", "old_value": "RECRUITING", "new_value": "COMPLETED"},
        {"field": "primary_completion_date_type", "old_value": "ESTIMATED", "new_value": "ACTUAL"},
        {"field": "completion_date_type", "old_value": "ESTIMATED", "new_value": "ACTUAL"},
        {"field": "has_results", "old_value": "0", "new_value": "1"}]


@pytest.mark.parametrize("copy", [OLDER, LIMITED_OLDER, LIMITED])
@pytest.mark.parametrize("newer_first", [True, False])
def test_in_one_file_the_whole_newer_copy_is_kept_whatever_the_order(db, tmp_path, copy, newer_first):
    """Two copies of a study not stored yet, in one file: the whole, newest one is what is stored."""
    studies = [json.loads(p.read_text())[0] for p in ([STUDY, copy] if newer_first else [copy, STUDY])]
    both = tmp_path / "two_copies.json"
    both.write_text(json.dumps(studies))
    result = import_file(db, both)
    assert (result.counts.new, result.counts.repeated) == (1, 1)
    alone = open_db(tmp_path / "alone.db")
    import_file(alone, STUDY)
    assert stored(db) == stored(alone)
    alone.close()
