"""One line of documentation for every table and column of the store.

The README's schema section is generated from this (``python -m litwatch.schema_docs``)
and a test checks both that every column in :data:`litwatch.store.TABLES` is described
here and that the README shows the current text.
"""

from __future__ import annotations

from .store import TABLES

COLUMNS: dict[str, dict[str, str]] = {
    "runs": {
        "id": "run number (primary key)",
        "topic": "topic name (imports: the --topic given, if any)",
        "source": "pubmed or ctgov",
        "kind": "fetch, follow (linked records fetched by ID) or import",
        "started_at": "UTC start time, ISO 8601; incremental fetches start from the last successful one",
        "finished_at": "UTC end time",
        "status": "running, success, failed or interrupted",
        "expected": "records the source said it had (fetch) or read from the file (import)",
        "received": "records received and stored or compared",
        "new": "records stored for the first time",
        "updated": "records whose content changed (child rows replaced)",
        "unchanged": "records received identical to what was stored",
        "deleted": "records removed by a DeleteCitation",
        "skipped": "records not stored (PubMed book records), each logged as a warning",
        "query": "the query sent (fetch)",
        "params": "JSON: mode, since, date windows and counts per search, file, format; never the API key",
        "error": "one-line error of a failed run",
        "litwatch_version": "version that ran",
    },
    "articles": {
        "pmid": "PubMed ID (primary key)",
        "title": "article title, inline markup kept as its text",
        "abstract": "abstract; structured sections as 'LABEL: text', one per line",
        "abstract_copyright": "copyright statement of the abstract",
        "journal": "journal title",
        "journal_iso": "ISO (or MEDLINE) journal abbreviation",
        "issn": "journal ISSN as printed on the record",
        "issn_linking": "linking ISSN",
        "nlm_unique_id": "NLM catalog ID of the journal",
        "journal_country": "journal's country of publication",
        "volume": "volume",
        "issue": "issue",
        "pages": "pages (MedlinePgn)",
        "pub_date": "publication date, ISO, as precise as given (2021, 2021-06 or 2021-06-01)",
        "pub_year": "publication year",
        "medline_date": "the raw MedlineDate when the source gave one ('1998 Dec-1999 Jan')",
        "article_date": "electronic publication date",
        "doi": "DOI, from the record's own ArticleIdList, else its ELocationID",
        "pmc_id": "PubMed Central ID",
        "pii": "publisher item identifier",
        "language": "first language of the article (ISO 639-2, e.g. eng)",
        "languages": "JSON array of all languages",
        "publication_status": "ppublish, epublish or aheadofprint",
        "medline_status": "MEDLINE, PubMed-not-MEDLINE, In-Process, Publisher...",
        "date_completed": "date NLM completed indexing",
        "date_revised": "date NLM last revised the record",
        "entrez_date": "date the record entered PubMed",
        "pubmed_date": "PubMed publication date (history status 'pubmed')",
        "design": "study design (meta-analysis, systematic review, randomized controlled trial, "
                  "non-randomized controlled trial, single-arm / open-label trial, observational study, "
                  "case report / case series, narrative review, study protocol, preclinical (animal or "
                  "in vitro), commentary / editorial / letter, other)",
        "design_source": "rule that decided the design: publication_type, mesh, text (title/abstract "
                         "wording, for records not yet indexed) or default",
        "retracted": "1 when the paper is retracted (publication type Retracted Publication, or a "
                     "RetractionIn notice); kept, but left out of evidence counts",
        "corrected": "1 when an erratum or a corrected republication exists (ErratumIn, "
                     "CorrectedandRepublishedIn)",
        "derived_hash": "record_hash the derived columns were computed from",
        "record_hash": "fingerprint of every stored value of the record, to tell revisions apart",
        "first_run_id": "run that first stored the record (foreign key to runs)",
        "changed_run_id": "run that last stored a changed version (foreign key to runs)",
    },
    "article_authors": {
        "pmid": "article (foreign key)",
        "position": "1-based byline position",
        "last_name": "family name",
        "fore_name": "given names",
        "initials": "initials",
        "suffix": "suffix (Jr, 3rd...)",
        "collective_name": "group author name, when the author is a collective",
        "affiliation": "first affiliation",
        "affiliations": "JSON array of all affiliations",
        "orcid": "ORCID iD, normalized to 0000-0000-0000-0000",
        "equal_contrib": "1 when marked as equal contributor",
    },
    "article_mesh": {
        "pmid": "article (foreign key)",
        "position": "order on the record",
        "descriptor_ui": "MeSH descriptor ID (D...); empty for MEDLINE-text imports",
        "descriptor_name": "MeSH heading",
        "major_topic": "1 when the descriptor or one of its qualifiers is a major topic",
        "qualifiers": "JSON array of {ui, name, major_topic}",
    },
    "article_publication_types": {
        "pmid": "article (foreign key)",
        "ui": "publication type ID (D...)",
        "name": "publication type (Journal Article, Randomized Controlled Trial, Review...)",
    },
    "article_keywords": {
        "pmid": "article (foreign key)",
        "keyword": "keyword",
        "owner": "who assigned it (NOTNLM = author, NLM...)",
        "major_topic": "1 when marked major",
    },
    "article_chemicals": {
        "pmid": "article (foreign key)",
        "registry_number": "CAS / UNII / EC number ('0' when none)",
        "ui": "MeSH ID of the substance",
        "name": "substance name",
    },
    "article_grants": {
        "pmid": "article (foreign key)",
        "position": "order on the record",
        "grant_id": "grant number",
        "acronym": "institute acronym",
        "agency": "funding agency",
        "country": "agency country",
    },
    "article_databanks": {
        "pmid": "article (foreign key)",
        "databank": "databank name (ClinicalTrials.gov, ISRCTN, GENBANK...)",
        "accession": "accession number (e.g. NCT04771767)",
    },
    "article_ids": {
        "pmid": "article (foreign key)",
        "id_type": "pubmed, doi, pmc, pii, mid...",
        "value": "the identifier",
    },
    "article_comments": {
        "pmid": "article (foreign key)",
        "position": "order on the record",
        "ref_type": "CommentOn, CommentIn, ErratumIn, RetractionIn, RetractionOf, UpdateOf...",
        "ref_pmid": "PMID of the other record, when given",
        "ref_source": "citation of the other record",
        "note": "NLM note",
    },
    "article_history": {
        "pmid": "article (foreign key)",
        "status": "received, revised, accepted, entrez, pubmed, medline...",
        "date": "ISO date",
    },
    "article_topics": {
        "pmid": "article (foreign key)",
        "topic": "topic name",
        "relevance": "core (both of the topic's concepts appear in title, abstract, MeSH or keywords) or "
                     "peripheral (brought by the topic's query or import, not core)",
        "first_run_id": "run whose fetch or tagged import brought the record in (empty when only "
                        "concept matching placed it in the topic)",
    },
    "article_trial_links": {
        "pmid": "PubMed ID (the article may not be stored yet)",
        "nct_id": "ClinicalTrials.gov ID (the trial may not be stored yet)",
        "source": "pubmed_databank (the record's DataBank list), pubmed_text (an NCT ID written in its "
                  "title or abstract) or ctgov_reference (the trial's references)",
        "reference_type": "for ctgov_reference: RESULT, BACKGROUND or DERIVED",
    },

    "reports": {
        "id": "report number (primary key)",
        "topic": "topic reported",
        "as_of": "the state the report shows (end of its last run)",
        "format": "md, html or json",
        "output": "file written, if any",
        "made_at": "when the report was made (UTC)",
    },
    "trials": {
        "nct_id": "ClinicalTrials.gov ID (primary key)",
        "brief_title": "brief title",
        "official_title": "official title",
        "acronym": "acronym",
        "org_study_id": "sponsor's own study ID",
        "overall_status": "RECRUITING, NOT_YET_RECRUITING, ACTIVE_NOT_RECRUITING, COMPLETED, TERMINATED, WITHDRAWN...",
        "why_stopped": "reason given for stopping",
        "study_type": "INTERVENTIONAL, OBSERVATIONAL, EXPANDED_ACCESS",
        "phases": "JSON array (EARLY_PHASE1, PHASE1 ... PHASE4, NA)",
        "allocation": "RANDOMIZED, NON_RANDOMIZED, NA",
        "masking": "NONE, SINGLE, DOUBLE, TRIPLE, QUADRUPLE",
        "primary_purpose": "TREATMENT, PREVENTION, BASIC_SCIENCE...",
        "enrollment": "participants (planned or actual, see enrollment_type)",
        "enrollment_type": "ESTIMATED or ACTUAL",
        "start_date": "study start, ISO as precise as given (2024-10 stays a month)",
        "start_date_type": "ESTIMATED or ACTUAL",
        "primary_completion_date": "primary completion, ISO as given",
        "primary_completion_date_type": "ESTIMATED or ACTUAL",
        "completion_date": "study completion, ISO as given",
        "completion_date_type": "ESTIMATED or ACTUAL",
        "first_posted": "date first posted",
        "last_update_posted": "date of the last update posted (incremental fetches filter on it)",
        "results_first_posted": "date results were first posted",
        "has_results": "1 when results are posted on ClinicalTrials.gov",
        "lead_sponsor": "lead sponsor",
        "lead_sponsor_class": "INDUSTRY, NIH, FED, OTHER...",
        "brief_summary": "brief summary",
        "conditions": "JSON array of the registered conditions (searchable)",
        "interventions": "JSON array of the intervention names (searchable)",
        "sex": "ALL, FEMALE, MALE",
        "minimum_age": "minimum age as given ('18 Years')",
        "maximum_age": "maximum age as given",
        "healthy_volunteers": "1 when healthy volunteers are accepted",
        "url": "study page on clinicaltrials.gov",
        "raw": "the study's full JSON as received, so nothing the source sent is lost",
        "design": "the study-design vocabulary of articles.design, from the design module "
                  "(randomized, non-randomized, single group, observational)",
        "design_source": "design_module",
        "derived_hash": "record_hash the derived columns were computed from",
        "record_hash": "fingerprint of every stored value of the study",
        "first_run_id": "run that first stored the study (foreign key to runs)",
        "changed_run_id": "run that last stored a changed version (foreign key to runs)",
    },
    "trial_conditions": {
        "nct_id": "study (foreign key)",
        "source": "reported (by the registrant), mesh or mesh_ancestor (derived by ClinicalTrials.gov)",
        "position": "order within its source",
        "condition": "condition or MeSH term",
        "mesh_id": "MeSH ID of a derived term",
    },
    "trial_interventions": {
        "nct_id": "study (foreign key)",
        "position": "order on the record",
        "type": "DRUG, BEHAVIORAL, DEVICE, PROCEDURE...",
        "name": "intervention name",
        "other_names": "JSON array of other names",
        "description": "description",
        "arm_group_labels": "JSON array of the arms that receive it",
    },
    "trial_intervention_mesh": {
        "nct_id": "study (foreign key)",
        "source": "mesh or mesh_ancestor",
        "position": "order within its source",
        "term": "MeSH term",
        "mesh_id": "MeSH ID",
    },
    "trial_arms": {
        "nct_id": "study (foreign key)",
        "position": "order on the record",
        "label": "arm label",
        "type": "EXPERIMENTAL, ACTIVE_COMPARATOR, PLACEBO_COMPARATOR...",
        "description": "description",
        "intervention_names": "JSON array of its interventions",
    },
    "trial_outcomes": {
        "nct_id": "study (foreign key)",
        "kind": "primary, secondary or other",
        "position": "order within its kind",
        "measure": "outcome measure",
        "description": "description",
        "time_frame": "time frame",
    },
    "trial_sponsors": {
        "nct_id": "study (foreign key)",
        "position": "order: the lead sponsor first",
        "role": "lead or collaborator",
        "name": "organization",
        "class": "INDUSTRY, NIH, FED, OTHER...",
    },
    "trial_locations": {
        "nct_id": "study (foreign key)",
        "position": "order on the record",
        "facility": "site name",
        "city": "city",
        "state": "state or region",
        "zip": "postal code",
        "country": "country",
        "status": "site recruitment status",
        "lat": "latitude",
        "lon": "longitude",
    },
    "trial_references": {
        "nct_id": "study (foreign key)",
        "position": "order on the record",
        "pmid": "PubMed ID of the cited publication, when given",
        "type": "RESULT, BACKGROUND or DERIVED",
        "citation": "citation text",
    },
    "trial_ids": {
        "nct_id": "study (foreign key)",
        "position": "order on the record",
        "id": "secondary ID",
        "type": "REGISTRY, NIH, OTHER_GRANT, OTHER...",
        "domain": "issuing organization",
        "link": "link, when given",
    },
    "trial_topics": {
        "nct_id": "study (foreign key)",
        "topic": "topic name",
        "relevance": "core (both concepts appear in titles, summary, conditions, interventions or their "
                     "MeSH) or peripheral",
        "first_run_id": "run whose fetch or tagged import brought the study in (empty when only concept "
                        "matching placed it in the topic)",
    },
    "trial_changes": {
        "id": "row number (primary key)",
        "nct_id": "study (foreign key)",
        "run_id": "run that saw the change (foreign key)",
        "field": "new (first sighting), or the trials column that changed",
        "old_value": "value before (empty for new)",
        "new_value": "value after (overall_status for new)",
        "last_update_posted": "the study's last_update_posted in the version that brought the change",
    },
}


def markdown() -> str:
    """The README's schema section: every table and column, one line each."""
    lines = []
    for table, spec in TABLES.items():
        pk = spec.pk if isinstance(spec.pk, str) else ", ".join(spec.pk)
        lines.append(f"**`{table}`** ({spec.description} Primary key: {pk}.)")
        lines.append("")
        for column in spec.columns:
            lines.append(f"- `{column}`: {COLUMNS[table][column]}")
        lines.append("")
    lines.append("**`recruiting_trials`** (view): trials recruiting, not yet recruiting or enrolling by "
                 "invitation, with their countries, by expected primary completion.")
    lines.append("")
    lines.append("**`publications_by_year`** (view): publications per year and design, retracted left out.")
    lines.append("")
    lines.append("**`trial_publications`** (view): every paper-trial link with both titles (empty when a "
                 "side is not stored), design and evidence.")
    lines.append("")
    lines.append("**`unreported_trials`** (view): trials completed (status COMPLETED, primary "
                 "completion, else completion, over 12 months ago) with no results posted and no "
                 "linked paper reporting them (a RESULT reference, or a linked randomized, "
                 "non-randomized, single-arm, observational or case study that is not retracted): "
                 "`nct_id`, `brief_title`, `lead_sponsor`, `lead_sponsor_class`, `enrollment`, "
                 "`completed`, `url`.")
    lines.append("")
    lines.append("**`articles_fts`**, **`trials_fts`**: SQLite FTS5 indexes (porter stemming) over "
                 "`articles.title` and `abstract`, and over `trials.brief_title`, `official_title`, "
                 "`acronym`, `brief_summary`, `conditions` and `interventions`; kept current by "
                 "triggers; Datasette's search box uses them.")
    return "\n".join(lines) + "\n"


def update(path: str) -> None:
    """Rewrite the part of ``path`` between the schema markers with :func:`markdown`."""
    text = open(path, encoding="utf-8").read()
    start, end = "<!-- schema:start -->\n", "<!-- schema:end -->"
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + start + markdown() + end + tail)


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1:
        update(sys.argv[1])
    else:
        print(markdown(), end="")
