"""The tables the ClinicalTrials.gov source writes: one row per study in ``trials`` and its
child tables (conditions, interventions, arms, sites...), the topics each study belongs to and
the history of what changed from run to run; its events and its views (recruiting trials,
trial publications, unreported trials)."""

from __future__ import annotations

from ...labels import COMPLETED, RECRUITING
from ...store.spec import RECORD_META, RUN_FOREIGN_KEYS, Family, TableSpec, View, child, sql_in, topics_table

TRIAL = ("nct_id", "trials", str, "study (foreign key)")
DERIVED: dict[str, tuple[type, str]] = {
    "design": (str, 'the study-design vocabulary of articles.design, from the design module (randomized, '
                    'non-randomized, single group, observational)'),
    "design_source": (str, 'design_module'),
    "derived_hash": (str, 'record_hash the derived columns were computed from'),
}

TABLES: dict[str, TableSpec] = {
    "trials": TableSpec(
        {
        "nct_id": (str, 'ClinicalTrials.gov ID (primary key)'),
        "brief_title": (str, 'brief title'),
        "official_title": (str, 'official title'),
        "acronym": (str, 'acronym'),
        "org_study_id": (str, "sponsor's own study ID"),
        "overall_status": (str, 'RECRUITING, NOT_YET_RECRUITING, ACTIVE_NOT_RECRUITING, COMPLETED, TERMINATED, '
                                'WITHDRAWN...'),
        "why_stopped": (str, 'reason given for stopping'),
        "study_type": (str, 'INTERVENTIONAL, OBSERVATIONAL, EXPANDED_ACCESS'),
        "phases": (str, 'JSON array (EARLY_PHASE1, PHASE1 ... PHASE4, NA)'),
        "allocation": (str, 'RANDOMIZED, NON_RANDOMIZED, NA'),
        "masking": (str, 'NONE, SINGLE, DOUBLE, TRIPLE, QUADRUPLE'),
        "primary_purpose": (str, 'TREATMENT, PREVENTION, BASIC_SCIENCE...'),
        "enrollment": (int, 'participants (planned or actual, see enrollment_type)'),
        "enrollment_type": (str, 'ESTIMATED or ACTUAL'),
        "start_date": (str, 'study start, ISO as precise as given (2024-10 stays a month)'),
        "start_date_type": (str, 'ESTIMATED or ACTUAL'),
        "primary_completion_date": (str, 'primary completion, ISO as given'),
        "primary_completion_date_type": (str, 'ESTIMATED or ACTUAL'),
        "completion_date": (str, 'study completion, ISO as given'),
        "completion_date_type": (str, 'ESTIMATED or ACTUAL'),
        "first_posted": (str, 'date first posted'),
        "last_update_posted": (str, 'date of the last update posted (incremental fetches filter on it)'),
        "version_holder": (str, "date of ClinicalTrials.gov's data version the copy comes from "
                                "(derivedSection.miscInfoModule.versionHolder); empty in a field-limited copy"),
        "results_first_posted": (str, 'date results were first posted'),
        "has_results": (int, '1 when results are posted on ClinicalTrials.gov'),
        "lead_sponsor": (str, 'lead sponsor'),
        "lead_sponsor_class": (str, 'INDUSTRY, NIH, FED, OTHER...'),
        "brief_summary": (str, 'brief summary'),
        "conditions": (str, 'JSON array of the registered conditions (searchable)'),
        "interventions": (str, 'JSON array of the intervention names (searchable)'),
        "sex": (str, 'ALL, FEMALE, MALE'),
        "minimum_age": (str, "minimum age as given ('18 Years')"),
        "maximum_age": (str, 'maximum age as given'),
        "healthy_volunteers": (int, '1 when healthy volunteers are accepted'),
        "url": (str, 'study page on clinicaltrials.gov'),
        "raw": (str, "the study's full JSON as received, so nothing the source sent is lost"),
        } | DERIVED | RECORD_META,
        pk='nct_id', foreign_keys=RUN_FOREIGN_KEYS,
        indexes=(('overall_status',), ('last_update_posted',)),
        description='One row per ClinicalTrials.gov study.'),
    "trial_conditions": child(TRIAL, {
        "source": (str, 'reported (by the registrant), mesh or mesh_ancestor (derived by ClinicalTrials.gov)'),
        "position": (int, 'order within its source'),
        "condition": (str, 'condition or MeSH term'),
        "mesh_id": (str, 'MeSH ID of a derived term'),
    }, ('nct_id', 'source', 'position'), 'Conditions as registered, and the MeSH terms (and ancestors) '
                                         'ClinicalTrials.gov derived from them.', indexes=(('condition',),)),
    "trial_interventions": child(TRIAL, {
        "position": (int, 'order on the record'),
        "type": (str, 'DRUG, BEHAVIORAL, DEVICE, PROCEDURE...'),
        "name": (str, 'intervention name'),
        "other_names": (str, 'JSON array of other names'),
        "description": (str, 'description'),
        "arm_group_labels": (str, 'JSON array of the arms that receive it'),
    }, ('nct_id', 'position'), 'Interventions as registered.'),
    "trial_intervention_mesh": child(TRIAL, {
        "source": (str, 'mesh or mesh_ancestor'),
        "position": (int, 'order within its source'),
        "term": (str, 'MeSH term'),
        "mesh_id": (str, 'MeSH ID'),
    }, ('nct_id', 'source', 'position'), 'MeSH terms (and ancestors) ClinicalTrials.gov derived from the '
                                         'interventions.'),
    "trial_arms": child(TRIAL, {
        "position": (int, 'order on the record'),
        "label": (str, 'arm label'),
        "type": (str, 'EXPERIMENTAL, ACTIVE_COMPARATOR, PLACEBO_COMPARATOR...'),
        "description": (str, 'description'),
        "intervention_names": (str, 'JSON array of its interventions'),
    }, ('nct_id', 'position'), 'Arms (groups) of the study.'),
    "trial_outcomes": child(TRIAL, {
        "kind": (str, 'primary, secondary or other'),
        "position": (int, 'order within its kind'),
        "measure": (str, 'outcome measure'),
        "description": (str, 'description'),
        "time_frame": (str, 'time frame'),
    }, ('nct_id', 'kind', 'position'), 'Primary, secondary and other outcome measures.'),
    "trial_sponsors": child(TRIAL, {
        "position": (int, 'order: the lead sponsor first'),
        "role": (str, 'lead or collaborator'),
        "name": (str, 'organization'),
        "class": (str, 'INDUSTRY, NIH, FED, OTHER...'),
    }, ('nct_id', 'position'), 'Lead sponsor and collaborators.'),
    "trial_locations": child(TRIAL, {
        "position": (int, 'order on the record'),
        "facility": (str, 'site name'),
        "city": (str, 'city'),
        "state": (str, 'state or region'),
        "zip": (str, 'postal code'),
        "country": (str, 'country'),
        "status": (str, 'site recruitment status'),
        "lat": (float, 'latitude'),
        "lon": (float, 'longitude'),
    }, ('nct_id', 'position'), 'Sites.', indexes=(('country',),)),
    "trial_references": child(TRIAL, {
        "position": (int, 'order on the record'),
        "pmid": (int, 'PubMed ID of the cited publication, when given'),
        "type": (str, 'RESULT, BACKGROUND or DERIVED'),
        "citation": (str, 'citation text'),
    }, ('nct_id', 'position'), 'Publications the record cites: RESULT, BACKGROUND or DERIVED (added by '
                               'ClinicalTrials.gov).', indexes=(('pmid',),)),
    "trial_ids": child(TRIAL, {
        "position": (int, 'order on the record'),
        "id": (str, 'secondary ID'),
        "type": (str, 'REGISTRY, NIH, OTHER_GRANT, OTHER...'),
        "domain": (str, 'issuing organization'),
        "link": (str, 'link, when given'),
    }, ('nct_id', 'position'), 'Secondary IDs (other registries, grants, sponsor numbers).', indexes=(('id',),)),
    "trial_topics": topics_table(TRIAL, "studies"),
    "trial_changes": TableSpec(
        {
        "id": (int, 'row number (primary key)'),
        "nct_id": (str, 'study (foreign key)'),
        "run_id": (int, 'run that saw the change (foreign key)'),
        "field": (str, 'new (first sighting), or the trials column that changed'),
        "old_value": (str, 'value before (empty for new)'),
        "new_value": (str, 'value after (overall_status for new)'),
        "last_update_posted": (str, "the study's last_update_posted in the version that brought the change"),
        },
        pk='id', foreign_keys=(('nct_id', 'trials', 'nct_id'), ('run_id', 'runs', 'id')),
        indexes=(('nct_id',), ('run_id',)),
        description="What changed in each study from one run to the next (field 'new' marks a first sighting)."),
}
FAMILY = Family("trials", "nct_id",
                tuple(n for n in TABLES if n not in ("trials", "trial_topics", "trial_changes")), "trial_topics",
                fts=("brief_title", "official_title", "acronym", "brief_summary", "conditions", "interventions"),
                tables=TABLES)

# Its events: a new trial, and its changes (status, phase, enrollment, results, dates) after
# the first live run that brought it into the topic; a paper about it appeared.
EVENTS = ("""
SELECT t.topic || ':trial_changes:' || c.id, t.topic,
       CASE c.field WHEN 'new' THEN 'new_trial' WHEN 'overall_status' THEN 'trial_status'
            WHEN 'phases' THEN 'trial_phase' WHEN 'enrollment' THEN 'trial_enrollment'
            WHEN 'has_results' THEN 'trial_results'
            WHEN 'primary_completion_date' THEN 'trial_completion_date'
            WHEN 'completion_date' THEN 'trial_completion_date'
            WHEN 'start_date' THEN 'trial_start_date' ELSE 'trial_' || c.field END,
       CASE c.field WHEN 'new' THEN t.live_run_id ELSE c.run_id END, c.nct_id, x.brief_title, c.old_value,
       CASE c.field WHEN 'new' THEN coalesce((SELECT s.new_value FROM trial_changes s WHERE s.nct_id = c.nct_id
            AND s.field = 'overall_status' AND s.run_id <= t.live_run_id ORDER BY s.id DESC LIMIT 1), c.new_value)
            ELSE c.new_value END, c.field, x.url
FROM trial_changes c JOIN trial_topics t ON t.nct_id = c.nct_id AND t.relevance = 'core'
JOIN trials x ON x.nct_id = c.nct_id
WHERE c.field IN ('new', 'overall_status', 'phases', 'enrollment', 'has_results', 'primary_completion_date',
                  'completion_date', 'start_date')
  AND NOT (c.field = 'has_results' AND c.new_value != '1')
  AND t.live_run_id IS NOT NULL AND (c.field = 'new' OR c.run_id > t.live_run_id)""", """
SELECT 'link:' || t.topic || ':' || h.paper_id || ':' || h.nct_id, t.topic, 'trial_paper',
       max(h.first_run_id, t.live_run_id), h.nct_id,
       coalesce(p.title, h.paper_id), NULL, h.paper_id,
       (SELECT group_concat(coalesce(l.reference_type, l.source)) FROM paper_trial_links l
        WHERE l.paper_id = h.paper_id AND l.nct_id = h.nct_id),
       -- a paper not stored yet: the registry's references are PubMed citations
       coalesce(p.url, CASE WHEN h.paper_id LIKE 'PMID:%'
                            THEN 'https://pubmed.ncbi.nlm.nih.gov/' || substr(h.paper_id, 6) || '/' END)
FROM link_history h JOIN trial_topics t ON t.nct_id = h.nct_id AND t.relevance = 'core'
LEFT JOIN papers p ON p.paper_id = h.paper_id
WHERE h.first_run_id IS NOT NULL AND t.live_run_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM paper_trial_links l WHERE l.paper_id = h.paper_id AND l.nct_id = h.nct_id
              AND coalesce(l.reference_type, '') != 'BACKGROUND')""")
# Its views: trials recruiting now; each trial's papers; trials whose results are overdue
# (completed over a year ago, nothing posted, no paper reporting them: see reported_trials).
VIEWS = {
    "recruiting_trials": View("""
SELECT t.nct_id, t.brief_title, t.overall_status, t.phases, t.lead_sponsor, t.enrollment, t.enrollment_type,
       (SELECT group_concat(DISTINCT country) FROM trial_locations l WHERE l.nct_id = t.nct_id) AS countries,
       t.primary_completion_date, t.primary_completion_date_type, t.url
FROM trials t
WHERE t.overall_status IN """ + sql_in(RECRUITING) + """
ORDER BY t.primary_completion_date, t.nct_id""",
        "Trials recruiting, not yet recruiting or enrolling by invitation, with their countries, by expected primary "
        "completion."),
    "trial_publications": View("""
SELECT l.nct_id, t.brief_title AS trial_title, l.paper_id, l.pmid, p.title AS paper_title, p.pub_year, p.design,
       p.preprint, p.retracted, l.source, l.reference_type
FROM paper_trial_links l
LEFT JOIN trials t ON t.nct_id = l.nct_id LEFT JOIN papers p ON p.paper_id = l.paper_id
ORDER BY l.nct_id, l.paper_id, l.source""",
        "Every paper-trial link with both titles (empty when a side is not stored), the paper's design and "
        "evidence."),
    "unreported_trials": View("""
SELECT t.nct_id, t.brief_title, t.lead_sponsor, t.lead_sponsor_class, t.enrollment,
       coalesce(t.primary_completion_date, t.completion_date) AS completed, t.url
FROM trials t
WHERE t.overall_status IN """ + sql_in(COMPLETED) + """
  AND coalesce(t.primary_completion_date, t.completion_date) < date('now', '-12 months')
  AND NOT coalesce(t.has_results, 0)
  AND t.nct_id NOT IN (SELECT nct_id FROM reported_trials)
ORDER BY completed, t.nct_id""",
        "Trials completed (status COMPLETED; primary completion, else completion, over 12 months ago) with no "
        "results posted and no paper reporting them (see reported_trials)."),
}
