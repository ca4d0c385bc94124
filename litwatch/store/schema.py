"""The whole schema in one place: litwatch's own tables (runs, reports, links), every
source's tables, the views for common questions and the full-text indexes, turned into SQL.

:func:`ensure_schema` creates whatever is missing (tables, columns, indexes, full-text
search with its triggers, views) and is safe to run on every open; the schema version and
data migrations live in :mod:`litwatch.store.db`.
"""

from __future__ import annotations

import importlib
import sqlite3

from ..sources import NAMES
from .spec import SQL_TYPES, Family, TableSpec

# Each source declares its tables in litwatch/sources/<name>/schema.py (TABLES, FAMILY).
SOURCE_SCHEMAS = {name: importlib.import_module(f"litwatch.sources.{name}.schema") for name in NAMES}

CORE_TABLES: dict[str, TableSpec] = {
    "runs": TableSpec(
        {
            "id": (int, "run number (primary key)"),
            "topic": (str, "topic name (imports: the --topic given, if any)"),
            "source": (str, "pubmed, ctgov or europepmc"),
            "kind": (str, "fetch, follow (linked records fetched by ID), import, reparse or reconcile (the "
                          "search's full ID list compared with the store)"),
            "started_at": (str, "UTC start time, ISO 8601; incremental fetches start from the last successful one"),
            "finished_at": (str, "UTC end time"),
            "status": (str, "running, success, failed or interrupted"),
            "expected": (int, "records the source said the search holds (fetch, reconcile: PubMed's Count, "
                              "ClinicalTrials.gov's totalCount, Europe PMC's hitCount; empty for PubMed's incremental "
                              "fetch, whose added and revised searches overlap: their Counts are in params) or read "
                              "from the file (import)"),
            "received": (int, "records received and stored or compared"),
            "new": (int, "records stored for the first time"),
            "updated": (int, "records whose content changed (child rows replaced)"),
            "unchanged": (int, "records received identical to what was stored"),
            "deleted": (int, "records removed by a DeleteCitation"),
            "skipped": (int, "records not stored (PubMed book records), each logged as a warning"),
            "repeated": (int, "records the source sent more than once in the run (counted once in received)"),
            "query": (str, "the query sent (fetch)"),
            "params": (str, "JSON: mode, since, date windows and counts per search, file, format; never the API key"),
            "error": (str, "one-line error of a failed run"),
            "litwatch_version": (str, "version that ran"),
            "session": (int, "the runs of one command or library call (litwatch update, fetch, import...) share "
                             "it: the id of their first run. The report's 'what changed' shows what the last one "
                             "brought"),
        },
        pk="id", indexes=(("session",),),
        description="One row per fetch or import: what was asked, what came back, how it ended."),
    "monitoring_gaps": TableSpec(
        {
            "id": (int, "gap number (primary key)"),
            "source": (str, "the source not searched (pubmed, ctgov, europepmc)"),
            "topic": (str, "the topic not searched"),
            "window_from": (str, "first day the failed run was meant to cover (YYYY-MM-DD); empty when it was "
                                 "the topic's first fetch (everything)"),
            "window_to": (str, "the day the failed run started: what was added or revised up to then is unseen"),
            "opened_run_id": (int, "the fetch that failed, was interrupted or could not reach the service "
                                   "(foreign key to runs)"),
            "closed_run_id": (int, "the successful fetch whose window covered the gap (empty while it is open)"),
            "reason": (str, "why the run did not finish: its one-line error"),
        },
        pk="id", foreign_keys=(("opened_run_id", "runs", "id"), ("closed_run_id", "runs", "id")),
        indexes=(("source", "topic"),),
        description="Windows a topic's search of a source did not cover because a fetch failed; the next "
                    "successful fetch starts early enough to cover them and closes them."),
    "left_search": TableSpec(
        {
            "source": (str, "the source whose search no longer lists the record"),
            "topic": (str, "the topic whose query it left"),
            "record_id": (str, "the record as events name it: PMID:<pmid>, an NCT ID, a Europe PMC ID"),
            "record_key": (str, "the record's key in its source's table (pmid, nct_id, epmc_id), as text"),
            "title": (str, "its title when it left"),
            "url": (str, "its page at the source"),
            "left_run_id": (int, "the reconcile run that found it gone (foreign key to runs)"),
            "returned_run_id": (int, "a later run that found it listed again (empty while it is out)"),
        },
        pk=("source", "topic", "record_key"), foreign_keys=(("left_run_id", "runs", "id"),),
        description="Records a topic's query brought in that the service's full ID list no longer holds "
                    "(`litwatch reconcile`): kept, flagged here, and told as an event.",
        without_rowid=True),
}
LINK_TABLES: dict[str, TableSpec] = {
    "paper_trial_links": TableSpec(
        {
            "paper_id": (str, "the paper: PMID:<pmid> for any paper with a PubMed ID, else its Europe PMC ID "
                              "(PPR:PPR123456 for a preprint); the paper may not be stored yet"),
            "nct_id": (str, "ClinicalTrials.gov ID (the trial may not be stored yet)"),
            "source": (str, "pubmed_databank (the PubMed record's DataBank list), pubmed_text (an NCT ID written "
                            "in its title or abstract), ctgov_reference (the trial's references) or "
                            "europepmc_text (an NCT ID in the Europe PMC record's title or abstract)"),
            "reference_type": (str, "for ctgov_reference: RESULT, BACKGROUND or DERIVED"),
            "pmid": (int, "PubMed ID of the paper, when it has one"),
        },
        pk=("paper_id", "nct_id", "source"),
        indexes=(("nct_id",), ("pmid",)),
        description="Which papers report or cite which trials, one row per pair and evidence. No foreign keys "
                    "on purpose: a link stays valid while either side is not (yet) stored.",
        without_rowid=True),
    "settings": TableSpec(
        {
            "key": (str, "what is remembered (primary key): evidence (whether the evidence layer is current), "
                         "topic:<name> (the concepts the topic's relevance was computed with)"),
            "value": (str, "its value"),
        },
        pk="key",
        description="litwatch's own state, kept with the data it describes."),
    "absent_ids": TableSpec(
        {
            "source": (str, "the source asked (pubmed, ctgov, europepmc)"),
            "id": (str, "the ID a stored link points at (a PMID, an NCT ID, a Europe PMC ID)"),
            "first_absent": (str, "when the source first answered without it (UTC)"),
            "last_tried": (str, "when it was last asked for (UTC); it is asked again 30 days later"),
            "tries": (int, "how many times it was asked for and not served"),
        },
        pk=("source", "id"),
        description="Linked records the source said it does not have (withdrawn, never public, a typo in a "
                    "paper's text), so following links does not ask for them on every run. Deleted when the record "
                    "arrives.",
        without_rowid=True),
    "link_history": TableSpec(
        {
            "paper_id": (str, "the paper (as in paper_trial_links)"),
            "nct_id": (str, "the trial"),
            "first_run_id": (int, "the last run before the evidence refresh that first saw the link (empty for links "
                                  "that existed when this table was made)"),
        },
        pk=("paper_id", "nct_id"),
        description="When each paper-trial link first appeared (paper_trial_links is rewritten as records change; "
                    "this table only grows): the 'a paper about this trial appeared' events.",
        without_rowid=True),
    "paper_versions": TableSpec(
        {
            "version_id": (str, "an earlier version of a paper: a preprint (PPR:PPR123456), or an earlier version of a "
                                "preprint (primary key)"),
            "paper_id": (str, "the paper it is a version of (as in the papers view): its journal version, or the "
                              "preprint's newest version"),
            "how": (str, "what says so: europepmc (Europe PMC's 'Preprint of' / 'Preprint in' relation), doi_version "
                         "(the same preprint DOI with another version suffix) or title_author (the same title and "
                         "first author)"),
        },
        pk="version_id", indexes=(("paper_id",),),
        description="Preprints and their published versions, and versions of one preprint: shown as one paper with "
                    "its history (the papers view lists the paper once), recomputed by each evidence refresh.",
        without_rowid=True),
    "notifications": TableSpec(
        {
            "event_id": (str, "the event sent (see the events view)"),
            "channel": (str, "where it went: email:<recipient list>"),
            "sent_at": (str, "when it was sent (UTC); empty for events marked seen without sending (the first "
                             "digest's backlog) and while their digest is being sent"),
            "message_id": (str, "the digest that carried it (see digests); empty for events marked seen"),
        },
        pk=("event_id", "channel"),
        description="Events already sent by `litwatch notify` (or being sent, or perhaps sent), so none is sent twice.",
        without_rowid=True),
    "digests": TableSpec(
        {
            "message_id": (str, "the e-mail's Message-ID (primary key)"),
            "channel": (str, "where it went: email:<recipient list>, as in notifications"),
            "events": (int, "events it carries (their notifications rows name it)"),
            "prepared_at": (str, "when it was recorded, before it was handed to the mail server (UTC)"),
            "sent_at": (str, "when the server accepted it (UTC)"),
            "status": (str, "sending (handed over, no answer recorded yet), sent, refused (the server refused it "
                            "before taking it: its events go out with the next digest) or unconfirmed (the "
                            "connection ended after it was handed over, or litwatch stopped before recording the "
                            "answer: it may have arrived, and its events are not sent again)"),
            "detail": (str, "the recipients the server refused, or why the digest was refused or is unconfirmed"),
        },
        pk="message_id",
        description="Every digest `litwatch notify` sent or tried to send, recorded before it is handed to the mail "
                    "server, so that a send cut off at any point is never repeated: delivery is at most once."),
    "reports": TableSpec(
        {
            "id": (int, "report number (primary key)"),
            "topic": (str, "topic reported"),
            "as_of": (str, "the state the report shows (end of its last run)"),
            "format": (str, "md, html or json"),
            "output": (str, "file written, if any"),
            "made_at": (str, "when the report was made (UTC)"),
            "last_run_id": (int, "the newest run the report rests on; the next report's changes start after it"),
        },
        pk="id",
        description="Reports made, so the next one can show what changed since (--since-last-report)."),
}
TABLES: dict[str, TableSpec] = dict(CORE_TABLES)
for _schema in SOURCE_SCHEMAS.values():
    TABLES.update(_schema.TABLES)
TABLES.update(LINK_TABLES)
FAMILIES: dict[str, Family] = {m.FAMILY.table: m.FAMILY for m in SOURCE_SCHEMAS.values()}

# Trials a paper reports: a RESULT reference, or a linked empirical study not retracted.
# The linked paper is found as the papers view finds it (the PubMed copy, else the first
# Europe PMC copy, else the Europe PMC record without a PMID), but through the tables' keys:
# joining the view on its computed paper_id reads every paper for every link.
_EMPIRICAL = """coalesce({x}.retracted, 0) = 0 AND {x}.design IN ('randomized controlled trial',
           'non-randomized controlled trial', 'single-arm / open-label trial',
           'observational study', 'case report / case series')"""
REPORTED_TRIALS_SQL = """
    SELECT l.nct_id FROM paper_trial_links l
    WHERE l.reference_type = 'RESULT'
       OR (l.pmid IS NOT NULL AND l.paper_id = 'PMID:' || l.pmid AND CASE
             WHEN EXISTS (SELECT 1 FROM articles a WHERE a.pmid = l.pmid)
             THEN EXISTS (SELECT 1 FROM articles a WHERE a.pmid = l.pmid AND """ + _EMPIRICAL.format(x="a") + """)
             ELSE EXISTS (SELECT 1 FROM europepmc_records e WHERE e.epmc_id = (SELECT min(x.epmc_id)
                          FROM europepmc_records x WHERE x.pmid = l.pmid) AND """ + _EMPIRICAL.format(x="e") + """)
           END)
       OR (l.paper_id NOT LIKE 'PMID:%' AND EXISTS (SELECT 1 FROM europepmc_records e WHERE e.epmc_id = l.paper_id
           AND e.pmid IS NULL AND """ + _EMPIRICAL.format(x="e") + """))"""
# One row per paper, whichever sources returned it: a record with a PubMed ID is that PubMed
# paper (its PubMed copy when stored, else its Europe PMC copy); others (preprints...) are
# keyed by their Europe PMC ID.
PAPERS_SQL = """
SELECT 'PMID:' || a.pmid AS paper_id, a.pmid,
       (SELECT min(e.epmc_id) FROM europepmc_records e WHERE e.pmid = a.pmid) AS epmc_id,
       a.doi, a.title, a.abstract, coalesce(a.journal_iso, a.journal) AS journal, a.volume, a.issue, a.pages,
       a.pub_year, a.pub_date AS published,
       a.entrez_date AS added, a.design, a.design_source, coalesce(a.retracted, 0) AS retracted,
       coalesce(a.corrected, 0) AS corrected, 0 AS preprint, NULL AS server,
       CASE WHEN EXISTS (SELECT 1 FROM europepmc_records e WHERE e.pmid = a.pmid) THEN 'pubmed,europepmc'
            ELSE 'pubmed' END AS sources,
       'https://pubmed.ncbi.nlm.nih.gov/' || a.pmid || '/' AS url, a.first_run_id, a.origin
FROM articles a
UNION ALL
SELECT coalesce('PMID:' || e.pmid, e.epmc_id), e.pmid, e.epmc_id, e.doi, e.title, e.abstract,
       coalesce(e.journal_iso, e.journal, e.preprint_server), e.volume, e.issue, e.pages, e.pub_year,
       e.first_publication_date,
       e.first_index_date, e.design, e.design_source, coalesce(e.retracted, 0), 0, e.is_preprint,
       e.preprint_server, 'europepmc', e.url, e.first_run_id, e.origin
FROM europepmc_records e
WHERE (e.pmid IS NULL AND e.epmc_id NOT IN (SELECT version_id FROM paper_versions))
   OR (e.pmid NOT IN (SELECT pmid FROM articles) AND e.pmid NOT IN (SELECT pmid FROM article_deletions)
       AND e.epmc_id = (SELECT min(x.epmc_id) FROM europepmc_records x WHERE x.pmid = e.pmid))"""


def papers_of(articles: str, europepmc: str) -> str:
    """The papers view's query for some papers only: ``articles`` and ``europepmc`` are SQL
    conditions on its PubMed rows (``a``) and Europe PMC rows (``e``). Filtering the view
    itself would compute every paper first (its paper_id is an expression, not a key)."""
    arms = PAPERS_SQL.split("\nUNION ALL\n")
    assert len(arms) == 2 and arms[0].endswith("FROM articles a")
    second = arms[1].replace("WHERE (e.pmid IS NULL", "WHERE ((e.pmid IS NULL", 1)
    return f"{arms[0]} WHERE {articles}\nUNION ALL\n{second}) AND {europepmc}"


# The papers of the topic named by the parameter :topic (the rows of the papers view that
# paper_topics places in it), read through the keys of the topic's records.
TOPIC_PAPERS_SQL = papers_of(
    "a.pmid IN (SELECT pmid FROM article_topics WHERE topic = :topic UNION SELECT x.pmid FROM europepmc_topics y "
    "JOIN europepmc_records x ON x.epmc_id = y.epmc_id WHERE y.topic = :topic AND x.pmid IS NOT NULL)",
    "coalesce('PMID:' || e.pmid, e.epmc_id) IN (SELECT paper_id FROM paper_topics WHERE topic = :topic)")
# Each paper's topics, whichever source's records placed it there.
PAPER_TOPICS_SQL = """
SELECT paper_id, topic, CASE WHEN max(relevance = 'core') THEN 'core' ELSE max(relevance) END AS relevance,
       min(first_run_id) AS first_run_id, min(live_run_id) AS live_run_id
FROM (SELECT 'PMID:' || pmid AS paper_id, topic, relevance, first_run_id, live_run_id FROM article_topics
      UNION ALL
      SELECT coalesce('PMID:' || e.pmid, t.epmc_id), t.topic, t.relevance, t.first_run_id, t.live_run_id
      FROM europepmc_topics t JOIN europepmc_records e ON e.epmc_id = t.epmc_id)
GROUP BY paper_id, topic"""
# What happened to each topic's core records, one row per event, with a stable ID: new
# papers and trials, trial changes, paper changes (retracted, corrected, new version, indexed),
# deletions, a paper linked to a trial; monitoring gaps opened and closed, and records that left
# the topic's search (any record the query had brought in, core or not: the query no longer
# finds it). Dated by the run that saw it.
EVENTS_SQL = """
SELECT 'paper:' || t.topic || ':' || p.paper_id AS event_id, t.topic,
       CASE WHEN p.preprint THEN 'new_preprint' ELSE 'new_paper' END AS kind, t.live_run_id AS run_id,
       p.paper_id AS record_id, p.title, NULL AS old_value, p.design AS new_value,
       CASE WHEN p.design_source IN ('publication_type', 'mesh') THEN 'indexed'
            WHEN p.design_source = 'text' THEN 'inferred' END AS detail, p.url
FROM paper_topics t JOIN papers p ON p.paper_id = t.paper_id
WHERE t.relevance = 'core' AND t.live_run_id IS NOT NULL
UNION ALL
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
  AND t.live_run_id IS NOT NULL AND (c.field = 'new' OR c.run_id > t.live_run_id)
UNION ALL
SELECT t.topic || ':article_changes:' || c.id, t.topic,
       CASE c.field WHEN 'retracted' THEN 'paper_retracted' WHEN 'corrected' THEN 'paper_corrected'
            WHEN 'pmid_version' THEN 'paper_new_version' ELSE 'paper_indexed' END,
       c.run_id, 'PMID:' || c.pmid, coalesce(a.title, (SELECT d.title FROM article_deletions d WHERE d.pmid = c.pmid)),
       c.old_value, c.new_value, c.field, 'https://pubmed.ncbi.nlm.nih.gov/' || c.pmid || '/'
FROM article_changes c
JOIN (SELECT pmid, topic, live_run_id FROM article_topics WHERE relevance = 'core'
      UNION SELECT d.pmid, j.value, 0 FROM article_deletions d JOIN json_each(coalesce(d.topics, '[]')) j) t
  ON t.pmid = c.pmid AND c.run_id > t.live_run_id
LEFT JOIN articles a ON a.pmid = c.pmid
WHERE (c.field IN ('retracted', 'corrected') AND c.new_value = '1') OR c.field = 'pmid_version'
   OR (c.field = 'design_source' AND c.new_value IN ('publication_type', 'mesh') AND coalesce(c.old_value, '') = 'text')
UNION ALL
SELECT t.topic || ':europepmc_changes:' || c.id, t.topic, 'paper_retracted', c.run_id, c.epmc_id, e.title,
       c.old_value, c.new_value, c.field, e.url
FROM europepmc_changes c JOIN europepmc_topics t ON t.epmc_id = c.epmc_id AND t.relevance = 'core'
  AND c.run_id > t.live_run_id
LEFT JOIN europepmc_records e ON e.epmc_id = c.epmc_id
WHERE c.field = 'retracted' AND c.new_value = '1'
UNION ALL
SELECT 'deleted:' || j.value || ':PMID:' || d.pmid, j.value, 'paper_deleted', d.run_id, 'PMID:' || d.pmid, d.title,
       NULL, NULL, d.as_of, 'https://pubmed.ncbi.nlm.nih.gov/' || d.pmid || '/'
FROM article_deletions d JOIN json_each(coalesce(d.topics, '[]')) j
UNION ALL
SELECT 'link:' || t.topic || ':' || h.paper_id || ':' || h.nct_id, t.topic, 'trial_paper',
       max(h.first_run_id, t.live_run_id), h.nct_id,
       coalesce(p.title, h.paper_id), NULL, h.paper_id,
       (SELECT group_concat(coalesce(l.reference_type, l.source)) FROM paper_trial_links l
        WHERE l.paper_id = h.paper_id AND l.nct_id = h.nct_id),
       coalesce(p.url, CASE WHEN h.paper_id LIKE 'PMID:%'
                            THEN 'https://pubmed.ncbi.nlm.nih.gov/' || substr(h.paper_id, 6) || '/' END)
FROM link_history h JOIN trial_topics t ON t.nct_id = h.nct_id AND t.relevance = 'core'
LEFT JOIN papers p ON p.paper_id = h.paper_id
WHERE h.first_run_id IS NOT NULL AND t.live_run_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM paper_trial_links l WHERE l.paper_id = h.paper_id AND l.nct_id = h.nct_id
              AND coalesce(l.reference_type, '') != 'BACKGROUND')
UNION ALL
SELECT 'gap:' || g.id || ':opened', g.topic, 'gap_opened', g.opened_run_id, g.source, NULL, g.window_from,
       g.window_to, g.reason, NULL
FROM monitoring_gaps g
UNION ALL
SELECT 'gap:' || g.id || ':closed', g.topic, 'gap_closed', g.closed_run_id, g.source, NULL, g.window_from,
       g.window_to, NULL, NULL
FROM monitoring_gaps g WHERE g.closed_run_id IS NOT NULL
UNION ALL
SELECT 'left:' || s.topic || ':' || s.record_id || ':' || s.left_run_id, s.topic, 'left_search', s.left_run_id,
       s.record_id, s.title, NULL, NULL, s.source, s.url
FROM left_search s"""
# Trials whose results are overdue: completed over a year ago, nothing posted, no paper
# reporting them (a RESULT reference, or a linked empirical study that is not retracted).
VIEWS = {
    "events": EVENTS_SQL,
    "papers": PAPERS_SQL,
    "paper_topics": PAPER_TOPICS_SQL,
    "recruiting_trials": """
SELECT t.nct_id, t.brief_title, t.overall_status, t.phases, t.lead_sponsor, t.enrollment, t.enrollment_type,
       (SELECT group_concat(DISTINCT country) FROM trial_locations l WHERE l.nct_id = t.nct_id) AS countries,
       t.primary_completion_date, t.primary_completion_date_type, t.url
FROM trials t
WHERE t.overall_status IN ('RECRUITING', 'NOT_YET_RECRUITING', 'ENROLLING_BY_INVITATION')
ORDER BY t.primary_completion_date, t.nct_id""",
    "publications_by_year": """
SELECT p.pub_year, p.design, sum(NOT p.preprint) AS publications, sum(p.preprint) AS preprints
FROM papers p WHERE NOT p.retracted
GROUP BY p.pub_year, p.design ORDER BY p.pub_year, p.design""",
    "trial_publications": """
SELECT l.nct_id, t.brief_title AS trial_title, l.paper_id, l.pmid, p.title AS paper_title, p.pub_year, p.design,
       p.preprint, p.retracted, l.source, l.reference_type
FROM paper_trial_links l
LEFT JOIN trials t ON t.nct_id = l.nct_id LEFT JOIN papers p ON p.paper_id = l.paper_id
ORDER BY l.nct_id, l.paper_id, l.source""",
    "unreported_trials": """
SELECT t.nct_id, t.brief_title, t.lead_sponsor, t.lead_sponsor_class, t.enrollment,
       coalesce(t.primary_completion_date, t.completion_date) AS completed, t.url
FROM trials t
WHERE t.overall_status = 'COMPLETED'
  AND coalesce(t.primary_completion_date, t.completion_date) < date('now', '-12 months')
  AND NOT coalesce(t.has_results, 0)
  AND t.nct_id NOT IN (""" + REPORTED_TRIALS_SQL + """)
ORDER BY completed, t.nct_id""",
}
# Full-text indexes: table -> columns (FTS5, porter stemming, external content).
FTS = {family.table: list(family.fts) for family in FAMILIES.values() if family.fts}


def create_table_sql(name: str, spec: TableSpec) -> str:
    """CREATE TABLE for ``spec``: typed columns, primary key, foreign keys."""
    integer_pk = isinstance(spec.pk, str) and spec.types[spec.pk] is int
    cols = []
    for column, col_type in spec.types.items():
        line = f"[{column}] {SQL_TYPES[col_type]}"
        if integer_pk and column == spec.pk:
            line += " PRIMARY KEY"
        cols.append(line)
    if not integer_pk:
        cols.append("PRIMARY KEY (" + ", ".join(f"[{c}]" for c in spec.pk_columns) + ")")
    for column, table, other in spec.foreign_keys:
        cols.append(f"FOREIGN KEY ([{column}]) REFERENCES [{table}]([{other}])")
    suffix = " WITHOUT ROWID" if spec.without_rowid and not integer_pk else ""
    return f"CREATE TABLE IF NOT EXISTS [{name}] (\n   " + ",\n   ".join(cols) + f"\n){suffix}"


def index_sql(name: str, spec: TableSpec) -> list[str]:
    """Indexes declared on a table, plus one on every foreign key its primary key does not lead,
    and one of the sample's records."""
    wanted = list(spec.indexes)
    for column, _, _ in spec.foreign_keys:
        if spec.pk_columns[0] != column and (column,) not in wanted:
            wanted.append((column,))
    out = [f"CREATE INDEX IF NOT EXISTS [idx_{name}_{'_'.join(cols)}] ON [{name}] ("
           + ", ".join(f"[{c}]" for c in cols) + ")" for cols in wanted]
    if "origin" in spec.columns:
        # Whether records of the bundled sample remain (the report asks) without reading every
        # record: this index holds only those, so writing other records costs nothing.
        out.append(f"CREATE INDEX IF NOT EXISTS [idx_{name}_sample] ON [{name}] (origin) WHERE origin = 'sample'")
    return out


def fts_sql(table: str, columns: list[str]) -> list[str]:
    """An external-content FTS5 index over ``columns`` of ``table`` and the triggers that keep
    it current when rows are rewritten or deleted. The update trigger fires only when an
    indexed column is written, so touching a record (e.g. marking it seen by a run) costs the
    index nothing. New rows are indexed by the writer, a batch at a time
    (:func:`litwatch.store.writes.save`): a trigger per inserted row cost three times more."""
    cols = ", ".join(f"[{c}]" for c in columns)
    new = ", ".join(f"new.[{c}]" for c in columns)
    old = ", ".join(f"old.[{c}]" for c in columns)
    fts = f"{table}_fts"
    delete = f"INSERT INTO [{fts}] ([{fts}], rowid, {cols}) VALUES ('delete', old.rowid, {old});"
    insert = f"INSERT INTO [{fts}] (rowid, {cols}) VALUES (new.rowid, {new});"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS [{fts}] USING FTS5 ({cols}, tokenize='porter', content=[{table}])",
        f"CREATE TRIGGER IF NOT EXISTS [{table}_ad] AFTER DELETE ON [{table}] BEGIN {delete} END",
        f"CREATE TRIGGER IF NOT EXISTS [{table}_au] AFTER UPDATE OF {', '.join(columns)} ON [{table}] "
        f"BEGIN {delete} {insert} END",
    ]


def rebuild_table(conn: sqlite3.Connection, name: str, spec: TableSpec) -> None:
    """Recreate a table with its declared keys and storage, keeping its rows (for a change
    ALTER TABLE cannot make). A ``position`` column new to the key is numbered in row order."""
    existing = columns_of(conn, name)
    if not existing:
        return
    new = f"{name}__rebuilt"
    conn.execute(create_table_sql(new, spec))
    keep = [c for c in spec.names if c in existing]
    cols = ", ".join(f"[{c}]" for c in keep)
    select = cols
    key = spec.pk_columns[0]
    if "position" in spec.pk_columns and conn.execute(f"SELECT count(*) FROM [{name}] WHERE position IS NULL"
                                                       if "position" in existing else "SELECT 1").fetchone()[0]:
        keep_no_pos = [c for c in keep if c != "position"]
        cols = ", ".join(f"[{c}]" for c in keep_no_pos) + ", [position]"
        select = ", ".join(f"[{c}]" for c in keep_no_pos) + f", row_number() OVER (PARTITION BY [{key}] ORDER BY rowid)"
    conn.execute(f"INSERT OR IGNORE INTO [{new}] ({cols}) SELECT {select} FROM [{name}]")
    conn.execute(f"DROP TABLE [{name}]")
    conn.execute(f"ALTER TABLE [{new}] RENAME TO [{name}]")
    for sql in index_sql(name, spec):
        conn.execute(sql)


def columns_of(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info([{table}])")]


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create missing tables, columns, indexes, FTS tables and views. Idempotent; runs in
    the caller's transaction."""
    for name, spec in TABLES.items():
        existing = columns_of(conn, name)
        if not existing:
            conn.execute(create_table_sql(name, spec))
        else:
            for column, col_type in spec.types.items():
                if column not in existing:
                    conn.execute(f"ALTER TABLE [{name}] ADD COLUMN [{column}] {SQL_TYPES[col_type]}")
        for sql in index_sql(name, spec):
            conn.execute(sql)
    for table, columns in FTS.items():
        fresh = not columns_of(conn, f"{table}_fts")
        for sql in fts_sql(table, columns):
            conn.execute(sql)
        if fresh:
            # Merge FTS segments less eagerly: bulk imports run about a quarter faster.
            conn.execute(f"INSERT INTO [{table}_fts] ([{table}_fts], rank) VALUES ('automerge', 16)")
            conn.execute(f"INSERT INTO [{table}_fts] ([{table}_fts]) VALUES ('rebuild')")
    create_views(conn)


def create_views(conn: sqlite3.Connection) -> None:
    """(Re)create the views for common questions."""
    for name, sql in VIEWS.items():
        conn.execute(f"DROP VIEW IF EXISTS [{name}]")
        conn.execute(f"CREATE VIEW [{name}] AS {sql.strip()}")
