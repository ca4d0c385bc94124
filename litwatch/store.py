"""The SQLite store: schema, idempotent upserts, deletions and the run log.

The schema is declared once, in :data:`TABLES`; :func:`ensure_schema` creates what is
missing (tables, columns, indexes, full-text search) and is safe to call on every open.
Writes go through prepared ``executemany`` statements built from the same declaration,
inside one transaction per batch, so a batch is stored whole or not at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from operator import itemgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import sqlite_utils

from . import __version__

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableSpec:
    """A table's columns (name -> type), primary key, foreign keys and extra indexes."""

    columns: dict[str, type]
    pk: str | tuple[str, ...]
    foreign_keys: tuple[tuple[str, str, str], ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    description: str = ""


def _child(columns: dict[str, type], pk: tuple[str, ...], description: str,
           indexes: tuple[tuple[str, ...], ...] = (), parent: tuple[str, str, type] = ("pmid", "articles", int)
           ) -> TableSpec:
    key, table, key_type = parent
    return TableSpec({key: key_type, **columns}, pk, ((key, table, key),), indexes, description)


def _trial_child(columns: dict[str, type], pk: tuple[str, ...], description: str,
                 indexes: tuple[tuple[str, ...], ...] = ()) -> TableSpec:
    return _child(columns, pk, description, indexes, parent=("nct_id", "trials", str))


TABLES: dict[str, TableSpec] = {
    "runs": TableSpec(
        {"id": int, "topic": str, "source": str, "kind": str, "started_at": str,
         "finished_at": str, "status": str, "expected": int, "received": int, "new": int,
         "updated": int, "unchanged": int, "deleted": int, "skipped": int, "query": str,
         "params": str, "error": str, "litwatch_version": str},
        "id", description="One row per fetch or import: what was asked, what came back, how it ended."),
    "articles": TableSpec(
        {"pmid": int, "title": str, "abstract": str, "abstract_copyright": str, "journal": str,
         "journal_iso": str, "issn": str, "issn_linking": str, "nlm_unique_id": str,
         "journal_country": str, "volume": str, "issue": str, "pages": str, "pub_date": str,
         "pub_year": int, "medline_date": str, "article_date": str, "doi": str, "pmc_id": str,
         "pii": str, "language": str, "languages": str, "publication_status": str,
         "medline_status": str, "date_completed": str, "date_revised": str, "entrez_date": str,
         "pubmed_date": str, "design": str, "design_source": str, "retracted": int, "corrected": int,
         "derived_hash": str, "record_hash": str, "first_run_id": int, "changed_run_id": int},
        "pmid", (("first_run_id", "runs", "id"), ("changed_run_id", "runs", "id")),
        (("pub_year",), ("doi",), ("design",)), "One row per PubMed record."),
    "article_authors": _child(
        {"position": int, "last_name": str, "fore_name": str, "initials": str, "suffix": str,
         "collective_name": str, "affiliation": str, "affiliations": str, "orcid": str,
         "equal_contrib": int}, ("pmid", "position"), "Authors in byline order.", (("orcid",),)),
    "article_mesh": _child(
        {"position": int, "descriptor_ui": str, "descriptor_name": str, "major_topic": int,
         "qualifiers": str}, ("pmid", "position"), "MeSH descriptors with their qualifiers."),
    "article_publication_types": _child(
        {"ui": str, "name": str}, ("pmid", "name"), "Publication types (Journal Article, RCT...)."),
    "article_keywords": _child(
        {"keyword": str, "owner": str, "major_topic": int}, ("pmid", "keyword"), "Author and NLM keywords."),
    "article_chemicals": _child(
        {"registry_number": str, "ui": str, "name": str}, ("pmid", "name"), "Substances indexed for the record."),
    "article_grants": _child(
        {"position": int, "grant_id": str, "acronym": str, "agency": str, "country": str},
        ("pmid", "position"), "Funding grants."),
    "article_databanks": _child(
        {"databank": str, "accession": str}, ("pmid", "databank", "accession"),
        "DataBank accession numbers (e.g. ClinicalTrials.gov NCT IDs).", (("accession",),)),
    "article_ids": _child(
        {"id_type": str, "value": str}, ("pmid", "id_type", "value"),
        "Identifiers of the record itself (pubmed, doi, pmc, pii, mid...).", (("value",),)),
    "article_comments": _child(
        {"position": int, "ref_type": str, "ref_pmid": int, "ref_source": str, "note": str},
        ("pmid", "position"), "Comments and corrections (RetractionIn, ErratumIn, CommentOn...).",
        (("ref_pmid",), ("ref_type",))),
    "article_history": _child(
        {"status": str, "date": str}, ("pmid", "status"),
        "Publication history dates (received, accepted, entrez, pubmed...)."),
    "article_topics": _child(
        {"topic": str, "relevance": str, "first_run_id": int}, ("pmid", "topic"),
        "The records of each topic and how central they are to it.", (("topic",),)),
}
TABLES.update({
    "trials": TableSpec(
        {"nct_id": str, "brief_title": str, "official_title": str, "acronym": str, "org_study_id": str,
         "overall_status": str, "why_stopped": str, "study_type": str, "phases": str, "allocation": str,
         "masking": str, "primary_purpose": str, "enrollment": int, "enrollment_type": str,
         "start_date": str, "start_date_type": str, "primary_completion_date": str,
         "primary_completion_date_type": str, "completion_date": str, "completion_date_type": str,
         "first_posted": str, "last_update_posted": str, "results_first_posted": str,
         "has_results": int, "lead_sponsor": str, "lead_sponsor_class": str, "brief_summary": str,
         "conditions": str, "interventions": str, "sex": str, "minimum_age": str, "maximum_age": str,
         "healthy_volunteers": int, "url": str, "raw": str, "design": str, "design_source": str,
         "derived_hash": str, "record_hash": str, "first_run_id": int, "changed_run_id": int},
        "nct_id", (("first_run_id", "runs", "id"), ("changed_run_id", "runs", "id")),
        (("overall_status",), ("last_update_posted",)), "One row per ClinicalTrials.gov study."),
    "trial_conditions": _trial_child(
        {"source": str, "position": int, "condition": str, "mesh_id": str}, ("nct_id", "source", "position"),
        "Conditions as registered, and the MeSH terms (and ancestors) ClinicalTrials.gov derived from them.",
        (("condition",),)),
    "trial_interventions": _trial_child(
        {"position": int, "type": str, "name": str, "other_names": str, "description": str,
         "arm_group_labels": str}, ("nct_id", "position"), "Interventions as registered."),
    "trial_intervention_mesh": _trial_child(
        {"source": str, "position": int, "term": str, "mesh_id": str}, ("nct_id", "source", "position"),
        "MeSH terms (and ancestors) ClinicalTrials.gov derived from the interventions."),
    "trial_arms": _trial_child(
        {"position": int, "label": str, "type": str, "description": str, "intervention_names": str},
        ("nct_id", "position"), "Arms (groups) of the study."),
    "trial_outcomes": _trial_child(
        {"kind": str, "position": int, "measure": str, "description": str, "time_frame": str},
        ("nct_id", "kind", "position"), "Primary, secondary and other outcome measures."),
    "trial_sponsors": _trial_child(
        {"position": int, "role": str, "name": str, "class": str}, ("nct_id", "position"),
        "Lead sponsor and collaborators."),
    "trial_locations": _trial_child(
        {"position": int, "facility": str, "city": str, "state": str, "zip": str, "country": str,
         "status": str, "lat": float, "lon": float}, ("nct_id", "position"), "Sites.", (("country",),)),
    "trial_references": _trial_child(
        {"position": int, "pmid": int, "type": str, "citation": str}, ("nct_id", "position"),
        "Publications the record cites: RESULT, BACKGROUND or DERIVED (added by ClinicalTrials.gov).",
        (("pmid",),)),
    "trial_ids": _trial_child(
        {"position": int, "id": str, "type": str, "domain": str, "link": str}, ("nct_id", "position"),
        "Secondary IDs (other registries, grants, sponsor numbers).", (("id",),)),
    "trial_topics": _trial_child(
        {"topic": str, "relevance": str, "first_run_id": int}, ("nct_id", "topic"),
        "The studies of each topic and how central they are to it.", (("topic",),)),
    "trial_changes": TableSpec(
        {"id": int, "nct_id": str, "run_id": int, "field": str, "old_value": str, "new_value": str,
         "last_update_posted": str},
        "id", (("nct_id", "trials", "nct_id"), ("run_id", "runs", "id")), (("nct_id",), ("run_id",)),
        "What changed in each study from one run to the next (field 'new' marks a first sighting)."),
})
TABLES["article_trial_links"] = TableSpec(
    {"pmid": int, "nct_id": str, "source": str, "reference_type": str}, ("pmid", "nct_id", "source"),
    indexes=(("nct_id",),),
    description="Which papers report or cite which trials, one row per pair and evidence. No foreign "
                "keys on purpose: a link stays valid while either side is not (yet) stored.")
TABLES["reports"] = TableSpec(
    {"id": int, "topic": str, "as_of": str, "format": str, "output": str, "made_at": str}, "id",
    description="Reports made, so the next one can show what changed since (--since-last-report).")
# Trials a paper reports: a RESULT reference, or a linked empirical study not retracted.
REPORTED_TRIALS_SQL = """
    SELECT l.nct_id FROM article_trial_links l LEFT JOIN articles a ON a.pmid = l.pmid
    WHERE l.reference_type = 'RESULT'
       OR (coalesce(a.retracted, 0) = 0 AND a.design IN ('randomized controlled trial',
           'non-randomized controlled trial', 'single-arm / open-label trial',
           'observational study', 'case report / case series'))"""
# Trials whose results are overdue: completed over a year ago, nothing posted, no paper
# reporting them (a RESULT reference, or a linked empirical study that is not retracted).
VIEWS = {
    "recruiting_trials": """
SELECT t.nct_id, t.brief_title, t.overall_status, t.phases, t.lead_sponsor, t.enrollment, t.enrollment_type,
       (SELECT group_concat(DISTINCT country) FROM trial_locations l WHERE l.nct_id = t.nct_id) AS countries,
       t.primary_completion_date, t.primary_completion_date_type, t.url
FROM trials t
WHERE t.overall_status IN ('RECRUITING', 'NOT_YET_RECRUITING', 'ENROLLING_BY_INVITATION')
ORDER BY t.primary_completion_date, t.nct_id""",
    "publications_by_year": """
SELECT a.pub_year, a.design, count(*) AS publications
FROM articles a WHERE NOT coalesce(a.retracted, 0)
GROUP BY a.pub_year, a.design ORDER BY a.pub_year, a.design""",
    "trial_publications": """
SELECT l.nct_id, t.brief_title AS trial_title, l.pmid, a.title AS article_title, a.pub_year, a.design,
       a.retracted, l.source, l.reference_type
FROM article_trial_links l
LEFT JOIN trials t ON t.nct_id = l.nct_id LEFT JOIN articles a ON a.pmid = l.pmid
ORDER BY l.nct_id, l.pmid, l.source""",
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
FTS = {"articles": ["title", "abstract"],
       "trials": ["brief_title", "official_title", "acronym", "brief_summary", "conditions", "interventions"]}


@dataclass(frozen=True)
class Family:
    """A record type: its main table, key, child tables (replaced whole on revision) and topic table."""

    table: str
    key: str
    children: tuple[str, ...]
    topics: str

    @property
    def content(self) -> list[str]:
        """Main-table columns that come from the source (fingerprinted)."""
        return [c for c in TABLES[self.table].columns if c not in RECORD_META]


# Columns litwatch adds to a parsed record: not part of its content fingerprint. The
# derived ones are filled by litwatch.evidence.
RECORD_META = ("record_hash", "first_run_id", "changed_run_id", "design", "design_source", "retracted",
               "corrected", "derived_hash")
ARTICLES = Family("articles", "pmid", tuple(n for n in TABLES if n.startswith("article_")
                                            and n not in ("article_topics", "article_trial_links")), "article_topics")
TRIALS = Family("trials", "nct_id", tuple(n for n in TABLES if n.startswith("trial_")
                                          and n not in ("trial_topics", "trial_changes")), "trial_topics")
ARTICLE_CHILDREN = list(ARTICLES.children)


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) a litwatch database with its schema in place."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA temp_store=MEMORY")
    ensure_schema(db)
    return db


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create missing tables, columns, indexes and FTS tables. Idempotent."""
    for name, spec in TABLES.items():
        table = db.table(name)
        if not table.exists():
            table.create(spec.columns, pk=spec.pk, foreign_keys=list(spec.foreign_keys))
        else:
            missing = {c: t for c, t in spec.columns.items() if c not in table.columns_dict}
            for column, col_type in missing.items():
                table.add_column(column, col_type)
        for cols in spec.indexes:
            table.create_index(cols, if_not_exists=True)
        for column, _, _ in spec.foreign_keys:  # index every foreign key not led by the primary key
            pk = spec.pk if isinstance(spec.pk, tuple) else (spec.pk,)
            if pk[0] != column and (column,) not in spec.indexes:
                table.create_index([column], if_not_exists=True)
    for name, sql in VIEWS.items():
        db.create_view(name, sql.strip(), replace=True)
    for name, columns in FTS.items():
        if not db.table(f"{name}_fts").exists():
            db.table(name).enable_fts(columns, fts_version="FTS5", create_triggers=True,
                                       tokenize="porter")
            # Merge FTS segments less eagerly: bulk imports run about a quarter faster.
            db.execute(f"INSERT INTO [{name}_fts] ([{name}_fts], rank) VALUES ('automerge', 16)")


def now() -> str:
    """Current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ runs ------

def start_run(db: sqlite_utils.Database, *, topic: str | None, source: str, kind: str,
              query: str | None = None, params: dict[str, Any] | None = None) -> int:
    """Record a run as started and return its id. ``params`` must not hold secrets."""
    with db.conn:
        cursor = db.conn.execute(
            "INSERT INTO runs (topic, source, kind, started_at, status, query, params, "
            "litwatch_version, expected, received, new, updated, unchanged, deleted, skipped) "
            "VALUES (?, ?, ?, ?, 'running', ?, ?, ?, NULL, 0, 0, 0, 0, 0, 0)",
            (topic, source, kind, now(), query, json.dumps(params or {}, sort_keys=True), __version__))
    return int(cursor.lastrowid)


def finish_run(db: sqlite_utils.Database, run_id: int, status: str, counts: "Counts",
               error: str | None = None, params: dict[str, Any] | None = None) -> None:
    """Close a run with its final status, counts and (for failures) the error message."""
    values = {"finished_at": now(), "status": status, "error": error, **counts.as_row()}
    if params is not None:
        values["params"] = json.dumps(params, sort_keys=True)
    with db.conn:
        db.table("runs").update(run_id, values)


def last_success(db: sqlite_utils.Database, topic: str, source: str) -> str | None:
    """``started_at`` of the topic's last successful fetch from ``source``, if any."""
    row = db.execute(
        "SELECT max(started_at) FROM runs WHERE topic = ? AND source = ? AND kind = 'fetch' "
        "AND status = 'success'", [topic, source]).fetchone()
    return row[0] if row else None


@dataclass
class Counts:
    """Tally of what a run did to the store."""

    expected: int | None = None
    received: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0

    def as_row(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def add(self, other: "Counts") -> None:
        for key in ("received", "new", "updated", "unchanged", "deleted", "skipped"):
            setattr(self, key, getattr(self, key) + getattr(other, key))


# -------------------------------------------------------------- articles ------

Prepared = tuple[tuple, dict[str, list[tuple]]]


def prepare_records(family: Family, records: Iterable[dict[str, Any]]) -> list[Prepared]:
    """Rows of parsed records as tuples in table column order, fingerprinted.

    The fingerprint (``record_hash``) covers every value litwatch stores for a record, so
    a revised record is told from an unchanged one. A later copy of a key wins.
    Pure and picklable: import workers run it in other processes.
    """
    main = itemgetter(*family.content)
    children = {name: itemgetter(*TABLES[name].columns) for name in family.children}
    out: dict[Any, Prepared] = {}
    for rec in records:
        row = main(rec[family.table])
        kids = {name: [get(r) for r in rec[name]] for name, get in children.items()}
        digest = hashlib.sha1(repr((row, kids)).encode()).hexdigest()
        out[row[0]] = (row + (digest,), kids)
    return list(out.values())


def create_stage(conn: sqlite3.Connection, schema: str, family: Family) -> None:
    """Create (or empty) unindexed staging copies of a family's tables in ``schema``.

    They are named ``stage_<table>``: a temp table named like a main one would shadow it.
    """
    for name in (family.table, *family.children):
        cols = family.content + ["record_hash"] if name == family.table else list(TABLES[name].columns)
        conn.execute(f"CREATE TABLE IF NOT EXISTS {schema}.[stage_{name}] ({', '.join(cols)})")
        conn.execute(f"DELETE FROM {schema}.[stage_{name}]")


def write_stage(conn: sqlite3.Connection, schema: str, family: Family, prepared: list[Prepared]) -> None:
    """Bulk-insert prepared rows into the staging tables of ``schema``."""
    width = len(family.content) + 1
    conn.executemany(f"INSERT INTO {schema}.[stage_{family.table}] VALUES ({', '.join('?' * width)})",
                     [row for row, _ in prepared])
    for name in family.children:
        rows = [row for _, children in prepared for row in children[name]]
        if rows:
            marks = ", ".join("?" * len(TABLES[name].columns))
            conn.executemany(f"INSERT INTO {schema}.[stage_{name}] VALUES ({marks})", rows)


def merge_stage(conn: sqlite3.Connection, schema: str, family: Family, run_id: int | None,
                topic: str | None = None, also: Callable[[sqlite3.Connection], None] | None = None) -> Counts:
    """Move staged records into the store in one transaction and count what changed.

    Unchanged records (same fingerprint) are left alone; revised ones replace their
    child rows; ``first_run_id`` keeps the run that first stored a record. ``also`` runs
    inside the same transaction (e.g. to write change history with the data it describes).
    """
    stage, key, table = f"{schema}.[stage_{family.table}]", family.key, family.table
    received = conn.execute(f"SELECT count(*) FROM {stage}").fetchone()[0]
    counts = Counts(received=received)
    if not received:
        return counts
    with conn:
        if topic:
            conn.execute(f"INSERT OR IGNORE INTO main.[{family.topics}] ({key}, topic, first_run_id) "
                         f"SELECT {key}, ?, ? FROM {stage}", (topic, run_id))
        conn.execute(f"DELETE FROM {stage} WHERE {key} IN (SELECT x.{key} FROM {stage} x JOIN "
                     f"main.[{table}] m ON m.{key} = x.{key} AND m.record_hash = x.record_hash)")
        todo = conn.execute(f"SELECT count(*) FROM {stage}").fetchone()[0]
        counts.updated = conn.execute(
            f"SELECT count(*) FROM {stage} WHERE {key} IN (SELECT {key} FROM main.[{table}])").fetchone()[0]
        counts.new, counts.unchanged = todo - counts.updated, received - todo
        if not todo:
            return counts
        if also:
            also(conn)
        if counts.updated:
            for name in family.children:
                conn.execute(f"DELETE FROM main.[{name}] WHERE {key} IN (SELECT {key} FROM {stage})")
        content = family.content + ["record_hash"]
        cols = ", ".join(f"[{c}]" for c in content)
        updates = ", ".join(f"[{c}] = excluded.[{c}]" for c in content[1:] + ["changed_run_id"])
        # "WHERE true" lets SQLite parse ON CONFLICT after a SELECT.
        conn.execute(f"INSERT INTO main.[{table}] ({cols}, first_run_id, changed_run_id) "
                     f"SELECT {cols}, ?, ? FROM {stage} WHERE true "
                     f"ON CONFLICT ({key}) DO UPDATE SET {updates}", (run_id, run_id))
        for name in family.children:
            child_cols = ", ".join(f"[{c}]" for c in TABLES[name].columns)
            conn.execute(f"INSERT OR REPLACE INTO main.[{name}] ({child_cols}) SELECT {child_cols} "
                         f"FROM {schema}.[stage_{name}] WHERE {key} IN (SELECT {key} FROM {stage})")
    return counts


def save_records(db: sqlite_utils.Database, family: Family, records: list[dict[str, Any]],
                 run_id: int | None, topic: str | None = None,
                 also: Callable[[sqlite3.Connection], None] | None = None) -> Counts:
    """Upsert parsed records in one transaction (staged in SQLite's temp schema).

    Returns counts of new, updated and unchanged records; duplicates of a key within
    ``records`` count as unchanged.
    """
    if not records:
        return Counts()
    prepared = prepare_records(family, records)
    conn = db.conn
    with conn:
        create_stage(conn, "temp", family)
        write_stage(conn, "temp", family, prepared)
    counts = merge_stage(conn, "temp", family, run_id, topic, also)
    extra = len(records) - len(prepared)
    counts.received += extra
    counts.unchanged += extra
    return counts


def save_articles(db: sqlite_utils.Database, records: list[dict[str, Any]], run_id: int | None,
                  topic: str | None = None) -> Counts:
    """Upsert parsed PubMed records; see :func:`save_records`."""
    return save_records(db, ARTICLES, records, run_id, topic)


# Trial fields whose changes are history: what a reader of "ongoing research" follows.
TRACKED_FIELDS = ("overall_status", "phases", "enrollment", "enrollment_type", "start_date",
                  "start_date_type", "primary_completion_date", "primary_completion_date_type",
                  "completion_date", "completion_date_type", "has_results")


def save_trials(db: sqlite_utils.Database, records: list[dict[str, Any]], run_id: int | None,
                topic: str | None = None) -> Counts:
    """Upsert parsed studies and record, in the same transaction, what changed in each:
    one ``trial_changes`` row per changed tracked field, and a ``new`` row for a study seen
    for the first time. Unchanged studies write nothing.
    """
    latest = {rec["trials"]["nct_id"]: rec for rec in records}
    stored = _stored_fields(db.conn, list(latest))
    changes, keep, stale = [], [], 0
    for nct_id, rec in latest.items():
        trial = rec["trials"]
        posted = trial["last_update_posted"]
        old = stored.get(nct_id)
        if old is None:
            changes.append((nct_id, run_id, "new", None, trial["overall_status"], posted))
            keep.append(rec)
            continue
        stored_posted, stored_size = old[-2:]
        if (stored_posted and (posted is None or posted < stored_posted)) or \
                (posted == stored_posted and len(trial["raw"]) < stored_size):
            # An older version never replaces a newer one, nor a field-limited copy
            # (an undated one, or a shorter one of the same version) a fuller one.
            stale += 1
            continue
        keep.append(rec)
        for field, before in zip(TRACKED_FIELDS, old):
            after = _text(trial[field])
            if _text(before) != after:
                changes.append((nct_id, run_id, field, _text(before), after, posted))

    def write_changes(conn: sqlite3.Connection) -> None:
        conn.executemany("INSERT INTO trial_changes (nct_id, run_id, field, old_value, new_value, "
                         "last_update_posted) VALUES (?, ?, ?, ?, ?, ?)", changes)

    counts = save_records(db, TRIALS, keep, run_id, topic, also=write_changes)
    if stale:
        log.warning("kept %d stored studies newer than the copies received", stale)
    counts.received += stale + len(records) - len(latest)
    counts.skipped += stale
    counts.unchanged += len(records) - len(latest)
    return counts


def _stored_fields(conn: sqlite3.Connection, ids: list[str]) -> dict[str, tuple]:
    columns = ", ".join(TRACKED_FIELDS + ("last_update_posted", "length(raw)"))
    return _rows_by_key(conn, "trials", "nct_id", columns, ids)


def _text(value: Any) -> str | None:
    """A value as history text: booleans as 0/1, like SQLite stores them."""
    if value is None:
        return None
    return str(int(value)) if isinstance(value, bool) else str(value)


def delete_articles(db: sqlite_utils.Database, pmids: Sequence[int]) -> int:
    """Delete records (a PubMed ``DeleteCitation``) and their child rows; return how many existed."""
    if not pmids:
        return 0
    conn = db.conn
    with conn:
        present = list(_existing_hashes(conn, list(pmids)))
        _delete_children(conn, present)
        conn.executemany("DELETE FROM article_topics WHERE pmid = ?", [(p,) for p in present])
        conn.executemany("DELETE FROM articles WHERE pmid = ?", [(p,) for p in present])
    return len(present)


def _rows_by_key(conn: sqlite3.Connection, table: str, key: str, columns: str,
                 keys: list) -> dict[Any, tuple]:
    """``{key: (columns...)}`` for the stored rows among ``keys`` (queried 900 keys at a time)."""
    found: dict[Any, tuple] = {}
    for i in range(0, len(keys), 900):
        chunk = keys[i:i + 900]
        rows = conn.execute(f"SELECT {key}, {columns} FROM [{table}] WHERE {key} IN ({','.join('?' * len(chunk))})",
                            chunk).fetchall()
        found.update((row[0], row[1:]) for row in rows)
    return found


def _existing_hashes(conn: sqlite3.Connection, pmids: list[int]) -> dict[int, str]:
    return {pmid: row[0] for pmid, row in _rows_by_key(conn, "articles", "pmid", "record_hash", pmids).items()}


def _delete_children(conn: sqlite3.Connection, pmids: list[int]) -> None:
    params = [(p,) for p in pmids]
    for name in ARTICLE_CHILDREN:
        conn.executemany(f"DELETE FROM [{name}] WHERE pmid = ?", params)
