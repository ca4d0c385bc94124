"""Work proportional to the change gives the same store as recomputing everything.

A store is built the everyday way: files imported one after the other (real records, then a
revised copy of one, then its deletion), the evidence layer refreshed after each for the
records that run touched. A copy of it then has the whole layer recomputed from scratch
(designs, flags, links, relevance of every record). Both must hold the same rows.
"""

import sqlite3

import pytest

from litwatch import evidence
from litwatch.config import DEFAULT_TOPIC, Topic
from litwatch.sources import all_sources
from litwatch.catalog import open_db
from litwatch.sync import import_file

from conftest import FIXTURES, SUBSET

# Each step is one import run followed by an incremental refresh, as `litwatch import` does.
STEPS = [
    (SUBSET, "ketamine-ptsd"),
    (FIXTURES / "ctg-studies_dtx_psychiatric.json", None),
    (FIXTURES / "pubmed20n0014_design_examples.xml", None),
    (FIXTURES / "pubmed21n1298_content_examples.xml", "ketamine-ptsd"),
    (FIXTURES / "pubmed_34092549_v2_retracted_corrected_indexed_derived.xml", None),  # a revision: design, flags
    (FIXTURES / "ctgov_NCT04040387_completed_with_results_derived.json", None),  # a trial revised
    (FIXTURES / "delete_citation_synthetic.xml", None),
]

# The evidence layer: what refresh derives, table by table.
EVIDENCE = {
    "paper_trial_links": "SELECT * FROM paper_trial_links",
    "article_topics": "SELECT pmid, topic, relevance FROM article_topics",
    "trial_topics": "SELECT nct_id, topic, relevance FROM trial_topics",
    "europepmc_topics": "SELECT epmc_id, topic, relevance FROM europepmc_topics",
    "articles": "SELECT pmid, design, design_source, retracted, corrected FROM articles",
    "trials": "SELECT nct_id, design, design_source FROM trials",
}
TOPICS = [DEFAULT_TOPIC, Topic(name="depression", queries={}, intervention_terms=("esketamine", "ketamine"),
                                condition_terms=("depressi",))]


def rows(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    return {name: sorted(tuple(r) for r in conn.execute(sql)) for name, sql in EVIDENCE.items()}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The same imports, the evidence kept current incrementally in one store and recomputed
    in full in a copy of it."""
    tmp = tmp_path_factory.mktemp("incremental")
    incremental = open_db(tmp / "incremental.db")
    refreshes = []
    for path, topic in STEPS:
        import_file(incremental, path, topic=topic)
        refreshes.append(evidence.refresh(incremental, TOPICS))
    full = open_db(tmp / "full.db")
    incremental.backup(full)
    # Forget everything derived, then derive it again from every stored record.
    for source in all_sources():
        if source.writer.derive:
            cleared = ", ".join(f"[{c}] = NULL" for c in source.writer.derived)
            full.execute(f"UPDATE [{source.family.table}] SET {cleared}, derived_hash = NULL")
    full.execute("DELETE FROM paper_trial_links")
    for source in all_sources():
        full.execute(f"UPDATE [{source.family.topics}] SET relevance = NULL")
    full.commit()
    evidence.refresh(full, TOPICS, full=True)
    yield incremental, full, refreshes
    incremental.close()
    full.close()


@pytest.mark.slow
def test_incremental_refresh_equals_a_full_recompute(stores):
    incremental, full, _ = stores
    ours, theirs = rows(incremental), rows(full)
    for name in EVIDENCE:
        assert ours[name] == theirs[name], name


def test_the_comparison_covers_every_kind_of_evidence(stores):
    incremental, _, refreshes = stores
    got = rows(incremental)
    assert {r[2] for r in got["paper_trial_links"]} >= {"pubmed_databank", "pubmed_text", "ctgov_reference"}
    # (imported records that match neither concept leave the topic: no 'none' rows here)
    assert {r[2] for r in got["article_topics"]} == {"core", "intervention", "condition"}
    assert {r[1] for r in got["article_topics"]} == {"ketamine-ptsd", "depression"}
    assert {r[2] for r in got["articles"]} >= {"publication_type", "mesh", "text", "default"}
    assert any(r[3] for r in got["articles"]) and any(r[4] for r in got["articles"])  # retracted, corrected
    assert refreshes[-1]["links"] == len(got["paper_trial_links"])


def test_a_refresh_after_an_import_touches_only_that_import(stores, monkeypatch):
    incremental, _, _ = stores
    seen = []
    original = evidence.relate

    def spy(conn, topic, source, keys=None):
        seen.append((source.name, None if keys is None else len(keys)))
        return original(conn, topic, source, keys)

    monkeypatch.setattr(evidence, "relate", spy)
    import_file(incremental, FIXTURES / "pubmed21n1298_34094707.xml")
    evidence.refresh(incremental, TOPICS)
    assert seen and all(n is not None and n <= 1 for _, n in seen)  # one record, never the whole store


# The query before it went through the tables' keys: the papers view joined on paper_id.
REPORTED_THROUGH_THE_VIEW = """
    SELECT l.nct_id FROM paper_trial_links l LEFT JOIN papers p ON p.paper_id = l.paper_id
    WHERE l.reference_type = 'RESULT'
       OR (coalesce(p.retracted, 0) = 0 AND p.design IN ('randomized controlled trial',
           'non-randomized controlled trial', 'single-arm / open-label trial',
           'observational study', 'case report / case series'))"""


def test_trials_reported_by_papers_through_keys_are_those_of_the_papers_view(stores):

    incremental, _, _ = stores
    for path in ("epmc_records_links_derived.json", "europepmc_search_cancer_preprints_subset.json",
                 "epmc_search_pmid_22663011.json", "pubmed_efetch_22663011.xml"):
        import_file(incremental, FIXTURES / path)
    evidence.refresh(incremental, TOPICS)
    # Links of every kind, to PubMed papers, to Europe PMC copies of them and to preprints.
    sources = {r[0] for r in incremental.execute("SELECT source FROM paper_trial_links")}
    assert {"pubmed_databank", "pubmed_text", "ctgov_reference", "europepmc_text"} <= sources
    ours = sorted(r[0] for r in incremental.execute("SELECT nct_id FROM reported_trials"))
    assert ours == sorted({r[0] for r in incremental.execute(REPORTED_THROUGH_THE_VIEW)})
    assert len(ours) > 5
    # Europe PMC's copies empirical too (an edit, in this store only): a PubMed copy still decides.
    incremental.execute("UPDATE europepmc_records SET design = 'randomized controlled trial'")
    more = sorted(r[0] for r in incremental.execute("SELECT nct_id FROM reported_trials"))
    assert more == sorted({r[0] for r in incremental.execute(REPORTED_THROUGH_THE_VIEW)})
    assert len(more) > len(ours)
    incremental.rollback()


def test_the_topics_papers_read_through_keys_are_those_of_the_papers_view(stores):
    from litwatch.catalog import topic_papers_sql

    incremental, _, _ = stores
    for path in ("epmc_records_links_derived.json", "europepmc_search_cancer_preprints_subset.json",
                 "epmc_search_pmid_22663011.json", "pubmed_efetch_22663011.xml"):
        import_file(incremental, FIXTURES / path)
    # Every Europe PMC record in a topic (an edit, in this store only): preprints, copies of
    # stored PubMed records and copies of records not stored.
    incremental.execute("INSERT OR IGNORE INTO europepmc_topics (epmc_id, topic, relevance) "
                        "SELECT epmc_id, 'depression', 'core' FROM europepmc_records")
    for topic in ("ketamine-ptsd", "depression"):
        def rows(papers):
            return incremental.execute(f"SELECT p.*, t.relevance FROM {papers} p JOIN paper_topics t "
                                       "ON t.paper_id = p.paper_id AND t.topic = :topic ORDER BY p.paper_id",
                                       {"topic": topic}).fetchall()
        ours = rows(f"({topic_papers_sql()})")
        assert ours == rows("papers")
        both = {"pubmed", "europepmc", "pubmed,europepmc"} if topic == "depression" else set()
        assert {r[-7] for r in ours} >= both  # the papers' sources column
    incremental.rollback()

