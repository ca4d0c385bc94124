"""Field-level checks of the PubMed parsers on real records."""

import gzip
import json

import pytest

from litwatch.errors import ParseError
from litwatch.sources.pubmed.medline import iter_medline
from litwatch.sources.pubmed.parse import as_dict, iso_date, iso_from_text, iter_xml, normalize_orcid, parse_xml_bytes

from conftest import FIXTURES, SUBSET


@pytest.fixture(scope="module")
def subset():
    with gzip.open(SUBSET) as f:
        events = list(iter_xml(f))
    return {e.record.key: as_dict(e.record) for e in events if e.kind == "article"}, events


def test_subset_counts_articles_and_deletions(subset):
    records, events = subset
    assert len(records) == 304
    (delete,) = [e for e in events if e.kind == "delete"]
    assert len(delete.pmids) == 20 and delete.pmids[0] == 31688362


def test_structured_abstract_databank_and_dates_of_34092549(subset):
    rec = subset[0][34092549]
    a = rec["articles"]
    assert a["title"].startswith("Combining Ketamine and Internet-Based Cognitive Behavioural Therapy")
    sections = a["abstract"].split("\n")
    assert [s.split(":")[0] for s in sections] == [
        "BACKGROUND", "OBJECTIVE", "METHODS", "RESULTS", "CONCLUSIONS", "CLINICALTRIAL"]
    assert a["journal"] == "JMIR research protocols" and a["journal_iso"] == "JMIR Res Protoc"
    assert a["issn"] == "1929-0748" and a["doi"] == "10.2196/30334"
    assert (a["pub_date"], a["pub_year"], a["article_date"]) == ("2021-06-01", 2021, "2021-06-01")
    assert (a["entrez_date"], a["publication_status"], a["medline_status"]) == \
        ("2021-06-07", "aheadofprint", "Publisher")
    assert a["pmid_version"] == 1
    assert rec["article_databanks"] == [
        {"databank": "ClinicalTrials.gov", "accession": "NCT04771767", "pmid": 34092549}]
    authors = rec["article_authors"]
    assert [x["last_name"] for x in authors][:2] == ["Philipp-Muller", "Reshetukha"]
    assert json.loads(authors[1]["affiliations"]) == [
        "Centre for Neuroscience Studies, Queen's University, Botterell Hall, 18 Stuart St., Kingston, CA.",
        "Department of Psychiatry, Queen's University, Kingston, CA."]
    assert [(r["id_type"], r["value"]) for r in rec["article_ids"]] == \
        [("pubmed", "34092549"), ("doi", "10.2196/30334")]


def test_medline_date_is_normalized_to_its_first_month(subset):
    a = subset[0][34088734]["articles"]
    assert (a["medline_date"], a["pub_date"], a["pub_year"]) == ("2021 Apr-Jun", "2021-04", 2021)


def test_collective_author_kept_in_order(subset):
    authors = subset[0][34088734]["article_authors"]
    collective = [x for x in authors if x["collective_name"]]
    assert collective and collective[0]["last_name"] is None


def test_record_without_abstract(subset):
    a = subset[0][33716116]["articles"]
    assert a["abstract"] is None and a["title"]


def test_rct_publication_type_mesh_and_databank_of_29768149():
    (event,) = parse_xml_bytes((FIXTURES / "pubmed-29768149.xml").read_bytes())
    rec = as_dict(event.record)
    assert "Randomized Controlled Trial" in {p["name"] for p in rec["article_publication_types"]}
    assert {d["databank"] for d in rec["article_databanks"]} == {"ClinicalTrials.gov"}
    mesh = rec["article_mesh"]
    assert mesh and all(m["descriptor_ui"].startswith("D") for m in mesh)
    qualified = [m for m in mesh if m["qualifiers"]]
    assert qualified and all(isinstance(q["major_topic"], bool) for q in json.loads(qualified[0]["qualifiers"]))


def test_book_article_is_reported_not_parsed_as_article():
    events = parse_xml_bytes((FIXTURES / "efetch.pubmedbook.xml").read_bytes())
    assert [e.kind for e in events] == ["book"]
    assert events[0].pmids == [20301295]


def test_empty_set_is_no_events():
    assert parse_xml_bytes((FIXTURES / "efetch_empty_set.xml").read_bytes()) == []


@pytest.mark.parametrize("name", ["einfo_truncated.xml", "efetch_not_xml.html", "esearch_history.xml"])
def test_unusable_documents_raise_parse_error(name):
    with pytest.raises(ParseError):
        parse_xml_bytes((FIXTURES / name).read_bytes())


def test_medline_export_maps_every_field():
    with open(FIXTURES / "pubmed_export_blachlylab.nbib", encoding="utf-8") as f:
        records = [as_dict(e.record) for e in iter_medline(f)]
    first, second = records
    a = first["articles"]
    assert a["pmid"] == 30501481 and a["doi"] == "10.1056/NEJMoa1812836"
    assert (a["pub_date"], a["article_date"], a["date_completed"]) == ("2018-12-27", "2018-12-01", "2019-01-11")
    assert (a["issn"], a["issn_linking"], a["pmc_id"]) == ("1533-4406", "0028-4793", "PMC6325637")
    assert a["abstract"].startswith("BACKGROUND: Ibrutinib") and a["journal"] == "The New England journal of medicine"
    assert first["article_databanks"][0]["accession"] == "NCT01886872"
    assert first["article_grants"][0] == {"pmid": 30501481, "position": 1, "grant_id": "R01 CA197870",
                                          "acronym": "CA", "agency": "NCI NIH HHS", "country": "United States"}
    mesh = {m["descriptor_name"]: m for m in first["article_mesh"]}
    assert mesh["Immunotherapy"]["major_topic"] and not mesh["Humans"]["major_topic"]
    assert json.loads(mesh["Rituximab"]["qualifiers"]) == [
        {"ui": None, "name": "adverse effects", "major_topic": False},
        {"ui": None, "name": "therapeutic use", "major_topic": True}]
    assert [c["ref_pmid"] for c in first["article_comments"]] == [31018078, 31018079, 31018080]
    assert {h["status"]: h["date"] for h in first["article_history"]}["entrez"] == "2018-12-04"
    # Affiliations are assigned only when every author has one (record 28418267 does).
    assert first["article_authors"][0]["affiliation"] is None
    assert len(second["article_authors"]) == 32
    assert second["article_authors"][31]["affiliation"] == "All authors: The Ohio State University, Columbus, OH."
    assert ("pii", "702282") in {(i["id_type"], i["value"]) for i in second["article_ids"]}


@pytest.mark.parametrize("args,expected", [
    (("2021", "Jun", "01"), "2021-06-01"), (("2021", "6", None), "2021-06"),
    (("1998", "Spring", None), "1998"), ((None, "Jan", "1"), None)])
def test_iso_date(args, expected):
    assert iso_date(*args) == expected


def test_iso_from_text_and_orcid():
    assert iso_from_text("1998 Dec-1999 Jan") == "1998-12"
    assert iso_from_text("2000 Spring") == "2000"
    assert normalize_orcid("https://orcid.org/0000-0002-1825-009x") == "0000-0002-1825-009X"
    assert normalize_orcid("0000000218250097") == "0000-0002-1825-0097"
