"""Which completed trials are "unreported": nothing posted and no paper reporting them, in
the ``unreported_trials`` view and in the report alike.

The example is a real study, NCT04137081 ("Unwinding Physician Anxiety", completed
2018-08-28, no results posted), whose registry entry lists its pilot-study paper (PMID
32234708) as DERIVED. Edited copies show each way a paper takes it off the list.
"""

import pytest

from litwatch import evidence
from litwatch.config import Topic
from litwatch.report.build import build_report
from litwatch.store import query
from litwatch.sync import import_file

from conftest import FIXTURES

NCT = "NCT04137081"
TOPIC = Topic(name="app-anxiety", intervention_terms=("app-based",), condition_terms=("anxiety",))
RESULT_REFERENCE = FIXTURES / "ctg-study_NCT04137081_result_reference_derived.json"
RCT_CITING_IT = FIXTURES / "pubmed-29768149_databank_NCT04137081_derived.xml"
RETRACTED_RCT_CITING_IT = FIXTURES / "pubmed-29768149_databank_NCT04137081_retracted_derived.xml"


def load(db, *names):
    for path in [FIXTURES / "ctg-study_NCT04137081.json", *names]:
        import_file(db, path, topic=TOPIC.name)
    evidence.refresh(db, [TOPIC])


def listed(db) -> dict[str, set[str]]:
    """The trials each reader is shown as unreported."""
    report = build_report(db, TOPIC)
    return {"view": {r["nct_id"] for r in query(db, "SELECT nct_id FROM unreported_trials")},
            "report": {t["nct_id"] for t in report["completed_trials"]["unreported"]}}


def test_a_completed_trial_without_results_or_a_reporting_paper_is_listed(db):
    load(db)
    assert listed(db) == {"view": {NCT}, "report": {NCT}}
    # Its DERIVED reference is no report of its results.
    assert query(db, "SELECT pmid, reference_type FROM paper_trial_links") == [
        {"pmid": 32234708, "reference_type": "DERIVED"}]


def test_a_result_reference_takes_it_off(db):
    load(db, RESULT_REFERENCE)
    assert query(db, "SELECT pmid, reference_type FROM paper_trial_links") == [
        {"pmid": 32234708, "reference_type": "RESULT"}]
    assert query(db, "SELECT overall_status, has_results FROM trials") == [
        {"overall_status": "COMPLETED", "has_results": 0}]
    assert listed(db) == {"view": set(), "report": set()}


def test_a_randomized_trial_naming_it_in_its_databank_list_takes_it_off(db):
    load(db, RCT_CITING_IT)
    assert query(db, "SELECT pmid, source FROM paper_trial_links WHERE nct_id = ? ORDER BY source", [NCT]) == [
        {"pmid": 32234708, "source": "ctgov_reference"}, {"pmid": 29768149, "source": "pubmed_databank"}]
    assert query(db, "SELECT design, retracted FROM articles") == [
        {"design": "randomized controlled trial", "retracted": 0}]
    assert listed(db) == {"view": set(), "report": set()}


def test_a_retracted_paper_reports_nothing(db):
    load(db, RETRACTED_RCT_CITING_IT)
    assert query(db, "SELECT design, retracted FROM articles") == [
        {"design": "randomized controlled trial", "retracted": 1}]
    assert listed(db) == {"view": {NCT}, "report": {NCT}}


@pytest.mark.parametrize("edit", [RESULT_REFERENCE, RCT_CITING_IT])
def test_the_trial_leaves_the_list_when_the_paper_arrives(db, edit):
    """The same store before and after: the report paper, imported later, is what changes."""
    load(db)
    assert listed(db) == {"view": {NCT}, "report": {NCT}}
    import_file(db, edit, topic=TOPIC.name)
    evidence.refresh(db, [TOPIC])
    assert listed(db) == {"view": set(), "report": set()}


@pytest.mark.parametrize("clause,edit,still_listed", [
    # Each clause of the rule, alone: an edit of the real study (in this store only) that fails it.
    ("completed", "UPDATE trials SET overall_status = 'ACTIVE_NOT_RECRUITING'", False),
    ("no results posted", "UPDATE trials SET has_results = 1", False),
    ("over 12 months ago", "UPDATE trials SET primary_completion_date = date('now', '-11 months')", False),
    ("over 12 months ago", "UPDATE trials SET primary_completion_date = date('now', '-13 months')", True),
    ("over 12 months ago: the primary completion, else the completion",
     "UPDATE trials SET primary_completion_date = NULL, completion_date = date('now', '-11 months')", False),
    ("over 12 months ago: the primary completion, else the completion",
     "UPDATE trials SET primary_completion_date = NULL, completion_date = date('now', '-13 months')", True),
])
def test_each_clause_of_the_rule_decides_alone(db, clause, edit, still_listed):
    """A trial is unreported when it is completed, has no results posted, completed (its primary
    completion, else its completion) over 12 months ago, and no paper reports it: the view and
    the report each drop the study when one clause fails, and only then."""
    load(db)
    db.execute(edit)
    assert listed(db) == ({"view": {NCT}, "report": {NCT}} if still_listed else {"view": set(), "report": set()}), \
        clause
