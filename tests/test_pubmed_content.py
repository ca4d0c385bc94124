"""Nothing the source sent is lost: the content PubMed records carry beyond the basics, on real
records from the 2021 update file, the 2020 baseline and a 2016 legacy-format file."""

import gzip
import json

import pytest

from litwatch.sources.pubmed.parse import as_dict, parse_xml_bytes

from conftest import FIXTURES, SUBSET


def records(name):
    body = (FIXTURES / name).read_bytes()
    body = gzip.decompress(body) if name.endswith(".gz") else body
    return {e.record.key: as_dict(e.record) for e in parse_xml_bytes(body) if e.kind == "article"}


@pytest.fixture(scope="module")
def examples():
    return records("pubmed21n1298_content_examples.xml")


def test_a_record_titled_only_in_its_own_language_has_that_title(examples):
    a = examples[32472320]["articles"]
    assert a["title"] == a["vernacular_title"] == "Briefsammlung Wittelshöfer."


def test_a_record_whose_only_abstract_is_another_one_has_it():
    rec = records("pubmed20n0014_400274_other_abstract.xml")[400274]
    (other,) = rec["article_other_abstracts"]
    assert (other["type"], other["language"]) == ("PIP", "eng")
    assert rec["articles"]["abstract"] == other["abstract"] and other["abstract"].startswith("The emergence of")


def test_a_legacy_record_gives_its_pmc_id_as_an_nlm_other_id():
    rec = records("medline16n0902_17942999_legacy_pmc.xml")[17942999]
    assert rec["articles"]["pmc_id"] == "PMC4380289"
    assert {(i["id_type"], i["value"]) for i in rec["article_ids"]} == {
        ("other:NLM", "NIHMS672708"), ("other:NLM", "PMC4380289")}


def test_repeated_history_dates_are_all_kept(examples):
    history = [(h["status"], h["date"]) for h in examples[34091662]["article_history"]]
    assert history.count(("revised", "2021-03-06")) == 1 and ("revised", "2020-09-04") in history
    assert [h["position"] for h in examples[34091662]["article_history"]] == list(range(1, 8))


def test_a_season_of_publication_is_kept(examples):
    a = examples[34092829]["articles"]
    assert (a["pub_date"], a["pub_season"], a["pub_year"]) == ("2020", "Spring", 2020)


def test_empty_and_whitespace_values_are_no_values(examples):
    raw = (FIXTURES / "pubmed21n1298_content_examples.xml").read_text()
    assert "<Suffix>\n\t\t\t\t</Suffix>" in raw  # as the file has it
    assert {a["suffix"] for a in examples[32420559]["article_authors"]} == {None}
    grants = examples[31420796]["article_grants"]
    assert "<Country/>" in raw and {g["country"] for g in grants} == {None}
    assert grants[0]["grant_id"] == "No. 21576232"


def test_affiliation_identifiers_and_supplementary_concepts(examples):
    ids = json.loads(next(a["affiliation_ids"] for a in examples[31969981]["article_authors"] if a["affiliation_ids"]))
    assert {"source": "GRID", "id": "grid.9227.e"} in ids
    assert examples[31175114]["article_supplementary_mesh"] == [
        {"pmid": 31175114, "position": 1, "ui": "C536943", "name": "NOG-Related-Symphalangism Spectrum Disorder",
         "type": "Disease"}]


def test_reference_lists_keep_the_cited_works_ids(examples):
    refs = examples[12486199]["article_references"]
    assert len(refs) == 36 and refs[0]["ref_pmid"] == 10196569 and refs[0]["citation"].startswith("Nat Neurosci")


def test_investigators_and_conflict_of_interest_statements():
    subset = records(SUBSET.name)
    investigators = subset[31719001]["article_investigators"]
    assert len(investigators) == 5 and investigators[0]["last_name"] == "Zhang"
    assert subset[33079921]["articles"]["coi_statement"] == (
        "The authors have no funding or conflicts of interest to disclose.")


def test_each_record_keeps_its_xml_as_received():
    body = gzip.decompress(SUBSET.read_bytes())
    events = [e for e in parse_xml_bytes(body) if e.kind == "article"]
    assert all(e.record.raw.startswith(b"<PubmedArticle>") and e.record.raw in body for e in events)
    assert sum(len(e.record.raw) for e in events) > 0.9 * len(body)


# Four cases benchmarks/fidelity.py found litwatch reading short, on real records.

def test_an_embargoed_pmc_id_is_the_pmc_id_without_its_release_note():
    rec = records("medline16n0902_fidelity_examples.xml")[25658195]
    assert ("other:NLM", "PMC4691190 [Available on 03/03/16]") in {
        (i["id_type"], i["value"]) for i in rec["article_ids"]}
    assert rec["articles"]["pmc_id"] == "PMC4691190"


def test_a_pii_given_only_as_an_elocation_id_is_kept():
    rec = records("medline16n0902_fidelity_examples.xml")[25440500]
    assert rec["articles"]["pii"] == "S0002-9149(14)01704-4"


def test_a_cited_works_pmc_id_is_read_from_either_id_type():
    refs = records("pubmed21n1298_fidelity_examples.xml")[30452057]["article_references"]
    assert refs[18]["ref_pmc"] == "PMC4882309"  # sent as <ArticleId IdType="pmcid">4882309</ArticleId>
    assert all(r["ref_pmc"] is None or r["ref_pmc"].startswith("PMC") for r in refs)


def test_a_labelled_section_without_text_ends_at_its_label():
    abstract = records("pubmed21n1298_fidelity_examples.xml")[31617889]["articles"]["abstract"]
    assert abstract.endswith("\nLEVEL OF EVIDENCE: 4:")


def test_an_empty_list_is_null_in_every_json_column(examples):
    for rec in examples.values():
        for table, column in [("article_authors", "affiliations"), ("article_authors", "affiliation_ids"),
                              ("article_investigators", "affiliations"), ("article_mesh", "qualifiers")]:
            assert all(row[column] is None or json.loads(row[column]) for row in rec[table])
        assert rec["articles"]["languages"] is None or json.loads(rec["articles"]["languages"])
