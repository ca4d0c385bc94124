"""Every copy of a record merged field by field, whatever its source, shape or order, on real
saved responses: Europe PMC's core, lite and ID-list results of one search; a ClinicalTrials.gov
study by ID and inside a field-limited search page; whole and field-limited studies of a real
download. A poorer copy never erases what a richer one brought; recency is compared only where
both copies state it; same-date copies end the same in either order; change rows and "updated"
counts come from real changes of stored values."""

import json
import random

import pytest

from litwatch.sync import import_file
from litwatch.store import query

from conftest import FIXTURES
from europepmc_standin import load

CORE = FIXTURES / "epmc_search_cancer_core.json.gz"
LITE = FIXTURES / "epmc_search_cancer_lite.json"
IDLIST = FIXTURES / "epmc_search_cancer_idlist.json"
SHAPES = {"core": CORE, "lite": LITE, "idlist": IDLIST}


def papers(db) -> dict[str, tuple]:
    """What a reader sees of each Europe PMC record: title, abstract, journal, authors, MeSH."""
    authors = {}
    for epmc_id, name in db.execute("SELECT epmc_id, full_name FROM europepmc_authors ORDER BY epmc_id, position"):
        authors.setdefault(epmc_id, []).append(name)
    return {r["epmc_id"]: (r["title"], r["abstract"], r["journal"], r["mesh"], r["pub_types"], r["result_type"],
                           tuple(authors.get(r["epmc_id"], [])))
            for r in query(db, "SELECT * FROM europepmc_records")}


@pytest.fixture(scope="module")
def core_alone(tmp_path_factory):
    from litwatch.catalog import open_db
    db = open_db(tmp_path_factory.mktemp("core") / "litwatch.db")
    import_file(db, CORE)
    yield papers(db)
    db.close()


@pytest.mark.parametrize("first,then", [("core", "idlist"), ("core", "lite"), ("lite", "core"), ("idlist", "core"),
                                        ("idlist", "lite"), ("lite", "idlist")])
def test_a_poorer_europe_pmc_copy_never_erases_what_a_richer_one_brought(db, core_alone, first, then):
    """Before: the ID-list save after the core page wiped title, abstract and authors of 25 of
    25 records; the lite save replaced 18 of 25; the core page after the lite save was refused
    for 10 of 25."""
    import_file(db, SHAPES[first])
    result = import_file(db, SHAPES[then])
    stored = papers(db)
    assert len(stored) == 25 and result.counts.received == 25
    if "core" in (first, then):
        assert stored == core_alone  # every field as the core result has it
    order = ("idlist", "lite", "core")
    if order.index(then) < order.index(first):  # the poorer copy second: nothing to change
        assert (result.counts.updated, result.counts.unchanged) == (0, 25)
    else:
        assert result.counts.updated == 25 and result.counts.skipped == 0
    shapes = {r[0] for r in db.execute("SELECT result_type FROM europepmc_records")}
    assert shapes == {max(first, then, key=order.index)}


def test_the_same_records_with_keys_reordered_and_new_citation_counts_are_unchanged(db, tmp_path):
    """Before: 82 of 86 records re-received counted as updated and rewritten; 57 differed only in
    JSON key order, the rest only in citation counts. The counts are stored all the same."""
    import_file(db, CORE)
    state = "SELECT epmc_id, record_hash, changed_run_id, raw FROM europepmc_records ORDER BY epmc_id"
    before = query(db, state)
    page = load("epmc_search_cancer_core.json.gz")
    rng = random.Random(21)
    results = []
    for r in page["resultList"]["result"]:
        keys = list(r)
        rng.shuffle(keys)
        shuffled = {k: r[k] for k in keys}
        shuffled["citedByCount"] = int(r.get("citedByCount", 0)) + 7
        results.append(shuffled)
    page["resultList"]["result"] = results
    again = tmp_path / "same_page_reordered_derived.json"
    again.write_text(json.dumps(page))
    result = import_file(db, again)
    assert (result.counts.unchanged, result.counts.updated) == (25, 0)
    assert query(db, state) == before
    counts = dict(db.execute("SELECT epmc_id, cited_by_count FROM europepmc_records"))
    assert all(counts[f"{r['source']}:{r['id']}"] == r["citedByCount"] for r in results)
    assert db.execute("SELECT count(*) FROM europepmc_changes").fetchone() == (0,)


# ------------------------------------------------------------ ClinicalTrials.gov --

BY_ID = FIXTURES / "ctgov_get_nct06382129_limited.json"
IN_PAGE = FIXTURES / "ctgov_search_nsclc_egfr_l858r_limited.json"


def eligibility(db, nct_id):
    study = json.loads(db.execute("SELECT raw FROM trials WHERE nct_id = ?", [nct_id]).fetchone()[0])
    return study["protocolSection"]["eligibilityModule"]


@pytest.mark.parametrize("order", [(BY_ID, IN_PAGE), (IN_PAGE, BY_ID)])
def test_a_study_by_id_and_in_a_field_limited_page_keeps_what_each_brought(db, order):
    """Before: NCT06382129 fetched by ID, then found in a field-limited search page, lost its sex
    and eligibility criteria (the page's eligibility module, with the minimum age only, replaced
    the stored one)."""
    for path in order:
        import_file(db, path)
    module = eligibility(db, "NCT06382129")
    assert module["minimumAge"] == "18 Years" and module["sex"] == "ALL"
    assert module["eligibilityCriteria"].startswith("Inclusion Criteria:")
    row = query(db, "SELECT sex, minimum_age FROM trials WHERE nct_id = 'NCT06382129'")[0]
    assert row == {"sex": "ALL", "minimum_age": "18 Years"}


def test_either_order_of_two_field_limited_copies_stores_the_same(tmp_path):
    from litwatch.catalog import open_db
    stores = []
    for name, order in (("a", (BY_ID, IN_PAGE)), ("b", (IN_PAGE, BY_ID))):
        db = open_db(tmp_path / f"{name}.db")
        for path in order:
            import_file(db, path)
        stores.append(query(db, "SELECT * FROM trials WHERE nct_id = 'NCT06382129'")[0])
        db.close()
    skip = {"first_run_id", "changed_run_id", "seen_run_id", "live_run_id"}
    first, second = ({k: v for k, v in s.items() if k not in skip} for s in stores)
    assert first == second


def study_of(path, nct_id):
    return next(s for s in json.loads(path.read_text()) if s["protocolSection"]["identificationModule"]["nctId"]
                == nct_id)


def test_a_newer_field_limited_copy_changes_only_what_it_says(db, tmp_path):
    """Before: an edited newer field-limited copy of NCT06004388 (its status module only, a new
    status and update date) nulled four dates and the official title and wrote 6 false change
    rows. The copy is derived here from the real study of a real download."""
    download = FIXTURES / "ctg-studies_dtx_psychiatric.json"
    whole = study_of(download, "NCT06004388")
    import_file(db, download)
    status = dict(whole["protocolSection"]["statusModule"])
    limited = {"protocolSection": {"identificationModule": {"nctId": "NCT06004388"},
                                   "statusModule": {"overallStatus": "TERMINATED",
                                                    "lastUpdatePostDateStruct": {"date": "2099-01-01"}}}}
    copy = tmp_path / "NCT06004388_status_only_derived.json"
    copy.write_text(json.dumps([limited]))
    before = query(db, "SELECT * FROM trials WHERE nct_id = 'NCT06004388'")[0]
    result = import_file(db, copy)
    after = query(db, "SELECT * FROM trials WHERE nct_id = 'NCT06004388'")[0]
    assert result.counts.updated == 1
    assert after["overall_status"] == "TERMINATED" and after["last_update_posted"] == "2099-01-01"
    for field in ("official_title", "start_date", "primary_completion_date", "completion_date", "first_posted"):
        assert after[field] == before[field] and before[field], field
    assert status["overallStatus"] != "TERMINATED"
    changes = query(db, "SELECT field, old_value, new_value FROM trial_changes WHERE run_id = ?", [result.run_id])
    assert changes == [{"field": "overall_status", "old_value": status["overallStatus"], "new_value": "TERMINATED"}]


def test_a_field_limited_copy_then_the_whole_study_records_no_false_change(db):
    """Before: the field-limited copy, then the whole study of the same date, wrote 7 change rows
    for a study that did not change (its empty fields were what the first copy did not carry)."""
    limited = import_file(db, FIXTURES / "ctg-study_NCT05305235_field_limited_derived.json")
    whole = import_file(db, FIXTURES / "ctg-study_NCT05305235.json")
    assert limited.counts.new == 1 and whole.counts.updated == 1
    assert query(db, "SELECT field FROM trial_changes WHERE run_id = ?", [whole.run_id]) == []


def test_a_whole_study_then_a_field_limited_copy_keeps_its_sites_and_outcomes(db, tmp_path):
    """Before: the store-integrity bar found a study's locations and outcomes wiped by a copy
    that lacked them. A real study of a real download, then its field-limited copy (identification
    and status modules only, derived here)."""
    download = FIXTURES / "ctg-studies_dtx_psychiatric.json"
    import_file(db, download)
    nct = "NCT05305235"
    locations = db.execute("SELECT count(*) FROM trial_locations WHERE nct_id = ?", [nct]).fetchone()[0]
    outcomes = db.execute("SELECT count(*) FROM trial_outcomes WHERE nct_id = ?", [nct]).fetchone()[0]
    assert locations and outcomes
    section = study_of(download, nct)["protocolSection"]
    limited = {"protocolSection": {"identificationModule": section["identificationModule"],
                                   "statusModule": section["statusModule"]}}
    copy = tmp_path / "status_only_derived.json"
    copy.write_text(json.dumps([limited]))
    result = import_file(db, copy)
    assert (result.counts.unchanged, result.counts.updated) == (1, 0)
    assert db.execute("SELECT count(*) FROM trial_locations WHERE nct_id = ?", [nct]).fetchone()[0] == locations
    assert db.execute("SELECT count(*) FROM trial_outcomes WHERE nct_id = ?", [nct]).fetchone()[0] == outcomes


# ------------------------------------------------------------- one record, one truth --

def paper_ids(db) -> set[str]:
    return {r[0] for r in db.execute("SELECT paper_id FROM papers")}


def test_a_pubmed_deletion_removes_the_paper_whatever_source_also_held_it(db, tmp_path):
    """Before: PMID 22663011, deleted by PubMed, survived in papers through its Europe PMC copy,
    and a Europe PMC copy arriving later brought it back."""
    import_file(db, FIXTURES / "pubmed_efetch_22663011.xml")
    import_file(db, FIXTURES / "epmc_search_pmid_22663011.json")
    assert "PMID:22663011" in paper_ids(db)
    deletion = tmp_path / "delete_citation_22663011_synthetic.xml"
    deletion.write_text('<?xml version="1.0"?>\n<!-- SYNTHETIC: a DeleteCitation of a real record -->\n'
                        '<PubmedArticleSet><DeleteCitation><PMID Version="1">22663011</PMID></DeleteCitation>'
                        '</PubmedArticleSet>\n')
    import_file(db, deletion)
    assert "PMID:22663011" not in paper_ids(db)
    import_file(db, FIXTURES / "epmc_search_pmid_22663011.json")  # Europe PMC still has it
    assert "PMID:22663011" not in paper_ids(db)
    assert db.execute("SELECT count(*) FROM europepmc_records WHERE pmid = 22663011").fetchone() == (1,)  # kept


def test_a_preprint_and_its_journal_version_are_one_paper_with_its_history(db, tmp_path):
    """By Europe PMC's relations (real records, paired in a derived fixture), and by the same
    title and first author (a journal copy derived here from a real medRxiv preprint)."""
    from litwatch import evidence
    from litwatch.config import DEFAULT_TOPIC

    import_file(db, FIXTURES / "epmc_records_links_derived.json")
    preprints = json.loads((FIXTURES / "europepmc_search_cancer_preprints_subset.json").read_text())
    medrxiv = next(r for r in preprints if r["id"] == "PPR1036674")
    journal = {k: v for k, v in medrxiv.items() if k not in ("bookOrReportDetails", "pubType", "versionNumber")}
    journal.update(source="MED", id="99999991", pmid="99999991", pubType="journal article",
                   doi="10.1000/derived.journal.version", journalTitle="Derived Journal")
    both = tmp_path / "preprint_and_journal_copy_derived.json"
    both.write_text(json.dumps([medrxiv, journal]))
    import_file(db, both)
    evidence.refresh(db, [DEFAULT_TOPIC])
    versions = query(db, "SELECT paper_id, version_id, how FROM paper_versions ORDER BY version_id")
    assert versions == [{"paper_id": "PMID:99999991", "version_id": "PPR:PPR1036674", "how": "title_author"},
                        {"paper_id": "PMID:40468710", "version_id": "PPR:PPR1037166", "how": "europepmc"}]
    ids = paper_ids(db)
    assert {"PMID:99999991", "PMID:40468710"} <= ids and not {"PPR:PPR1036674", "PPR:PPR1037166"} & ids


def test_versions_of_one_preprint_are_one_paper(db, tmp_path):
    """Research Square numbers its versions in the DOI (.../v1): version 2 stands for both (a
    second version derived here from the real PPR1037166)."""
    from litwatch import evidence

    preprints = json.loads((FIXTURES / "europepmc_search_cancer_preprints_subset.json").read_text())
    first = next(r for r in preprints if r["id"] == "PPR1037166")
    second = dict(first, id="PPR1037167", doi=first["doi"].replace("/v1", "/v2"), versionNumber=2)
    path = tmp_path / "research_square_two_versions_derived.json"
    path.write_text(json.dumps([first, second]))
    import_file(db, path)
    evidence.refresh(db, [])
    assert query(db, "SELECT paper_id, version_id, how FROM paper_versions") == [
        {"paper_id": "PPR:PPR1037167", "version_id": "PPR:PPR1037166", "how": "doi_version"}]
    assert "PPR:PPR1037166" not in paper_ids(db) and "PPR:PPR1037167" in paper_ids(db)


def test_jats_markup_of_preprint_abstracts_is_cleaned_like_html():
    """Research Square abstracts carry JATS (no recorded response here shows one: the markup is
    written out as its servers send it)."""
    from litwatch.sources.europepmc.parse import _markup_text

    jats = ("<jats:sec><jats:title>Abstract</jats:title><jats:sec><jats:title>Background</jats:title><jats:p>We "
            "studied <jats:italic>E. coli</jats:italic> (p &lt;0.05).</jats:p></jats:sec><jats:sec><jats:title>"
            "Results</jats:title><jats:p>PCL-5 fell.</jats:p></jats:sec></jats:sec>")
    assert _markup_text(jats) == "Background: We studied E. coli (p <0.05).\nResults: PCL-5 fell."
    assert _markup_text("<title>Abstract</title><p>Plain text.</p>") == "Plain text."
