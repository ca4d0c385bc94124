"""The evidence layer, derived from stored records: paper-trial links, study designs,
retraction and correction flags, relevance to each topic.

Everything here is recomputed from the source tables, so it is always consistent with
them: links and relevance are rebuilt whole (they depend on both sources and on the
topics), designs and flags only for records whose content changed since they were last
derived (``derived_hash`` differs from ``record_hash``). :func:`refresh` runs it all and
is called after every fetch and import.
"""

from __future__ import annotations

import re
from typing import Iterable

import sqlite3

from .config import Topic
from .store.db import transaction
from .designs import ArticleFacts, classify_article, classify_trial

NCT_ID = re.compile(r"\bNCT\s?(\d{8})\b", re.IGNORECASE)


def refresh(conn: sqlite3.Connection, topics: Iterable[Topic]) -> dict[str, int]:
    """Recompute the whole evidence layer; return counts of what it holds."""
    with transaction(conn):
        classify_articles(conn)
        classify_trials(conn)
        links = rebuild_links(conn)
        relevance = rebuild_relevance(conn, list(topics))
    return {"links": links, **relevance}


def classify_articles(conn: sqlite3.Connection) -> int:
    """Set design, design_source, retracted and corrected where the record changed."""
    todo = [row[0] for row in conn.execute(
        "SELECT pmid FROM articles WHERE derived_hash IS NOT record_hash")]
    for i in range(0, len(todo), 500):
        chunk = todo[i:i + 500]
        marks = ",".join("?" * len(chunk))
        types = _grouped(conn, f"SELECT pmid, name FROM article_publication_types WHERE pmid IN ({marks})", chunk)
        mesh = _grouped(conn, f"SELECT pmid, descriptor_name FROM article_mesh WHERE pmid IN ({marks})", chunk)
        comments = _grouped(conn, f"SELECT pmid, ref_type FROM article_comments WHERE pmid IN ({marks})", chunk)
        rows = []
        for pmid, title, abstract, record_hash in conn.execute(
                f"SELECT pmid, title, abstract, record_hash FROM articles WHERE pmid IN ({marks})", chunk):
            facts = ArticleFacts(title or "", abstract or "", types.get(pmid, set()), mesh.get(pmid, set()))
            design, source = classify_article(facts)
            refs = comments.get(pmid, set())
            retracted = "Retracted Publication" in facts.publication_types or "RetractionIn" in refs
            corrected = bool(refs & {"ErratumIn", "CorrectedandRepublishedIn"})
            rows.append((design, source, retracted, corrected, record_hash, pmid))
        conn.executemany("UPDATE articles SET design = ?, design_source = ?, retracted = ?, corrected = ?, "
                         "derived_hash = ? WHERE pmid = ?", rows)
    return len(todo)


def classify_trials(conn: sqlite3.Connection) -> int:
    """Set design for trials whose record changed."""
    rows = [(classify_trial(study_type, allocation), record_hash, nct_id)
            for nct_id, study_type, allocation, record_hash in conn.execute(
                "SELECT nct_id, study_type, allocation, record_hash FROM trials "
                "WHERE derived_hash IS NOT record_hash")]
    conn.executemany("UPDATE trials SET design = ?, design_source = 'design_module', derived_hash = ? "
                        "WHERE nct_id = ?", rows)
    return len(rows)


def rebuild_links(conn: sqlite3.Connection) -> int:
    """Rebuild article_trial_links from every evidence there is; return the row count."""
    conn.execute("DELETE FROM article_trial_links")
    conn.execute(
        "INSERT OR IGNORE INTO article_trial_links (pmid, nct_id, source, reference_type) "
        "SELECT pmid, upper(replace(accession, ' ', '')), 'pubmed_databank', NULL FROM article_databanks "
        "WHERE databank = 'ClinicalTrials.gov' AND upper(accession) LIKE 'NCT%'")
    conn.execute(
        "INSERT OR IGNORE INTO article_trial_links (pmid, nct_id, source, reference_type) "
        "SELECT pmid, nct_id, 'ctgov_reference', type FROM trial_references WHERE pmid IS NOT NULL")
    mentions = set()
    for pmid, title, abstract in conn.execute(
            "SELECT pmid, title, abstract FROM articles WHERE title LIKE '%NCT%' OR abstract LIKE '%NCT%'"):
        for m in NCT_ID.finditer(f"{title or ''}\n{abstract or ''}"):
            mentions.add((pmid, f"NCT{m.group(1)}"))
    conn.executemany("INSERT OR IGNORE INTO article_trial_links (pmid, nct_id, source, reference_type) "
                     "VALUES (?, ?, 'pubmed_text', NULL)", sorted(mentions))
    return conn.execute("SELECT count(*) FROM article_trial_links").fetchone()[0]


def concept_pattern(terms: Iterable[str]) -> re.Pattern | None:
    """A case-insensitive whole-word pattern matching any of ``terms``."""
    terms = [t for t in terms if t.strip()]
    if not terms:
        return None
    return re.compile(r"\b(" + "|".join(re.escape(t.strip()) for t in terms) + r")", re.IGNORECASE)


def rebuild_relevance(conn: sqlite3.Connection, topics: list[Topic]) -> dict[str, int]:
    """Set relevance of every record to every topic.

    core: both of the topic's concepts (intervention and condition) appear in the
    record's title, abstract, MeSH or keywords (trials: titles, summary, conditions,
    interventions and their MeSH); such records join the topic even if its query did
    not bring them. peripheral: brought in by the topic's query or import, but not core.
    """
    counts = {"core_articles": 0, "core_trials": 0}
    for topic in topics:
        intervention = concept_pattern(topic.intervention_terms)
        condition = concept_pattern(topic.condition_terms)
        for kind, table, key, text_sql in (
                ("articles", "article_topics", "pmid", ARTICLE_TEXT_SQL),
                ("trials", "trial_topics", "nct_id", TRIAL_TEXT_SQL)):
            core = []
            if intervention and condition:
                for record_id, text in conn.execute(text_sql):
                    if intervention.search(text) and condition.search(text):
                        core.append(record_id)
            # Rows that only concept matching added are recomputed; query members stay.
            conn.execute(f"DELETE FROM [{table}] WHERE topic = ? AND first_run_id IS NULL", [topic.name])
            conn.execute(f"UPDATE [{table}] SET relevance = 'peripheral' WHERE topic = ?", [topic.name])
            conn.executemany(f"INSERT INTO [{table}] ({key}, topic, relevance) VALUES (?, ?, 'core') "
                             f"ON CONFLICT ({key}, topic) DO UPDATE SET relevance = 'core'",
                             [(record_id, topic.name) for record_id in core])
            counts[f"core_{kind}"] += len(core)
    return counts


ARTICLE_TEXT_SQL = """
SELECT a.pmid, coalesce(a.title, '') || ' ' || coalesce(a.abstract, '') || ' ' ||
  coalesce((SELECT group_concat(descriptor_name, ' | ') FROM article_mesh m WHERE m.pmid = a.pmid), '') || ' ' ||
  coalesce((SELECT group_concat(keyword, ' | ') FROM article_keywords k WHERE k.pmid = a.pmid), '') || ' ' ||
  coalesce((SELECT group_concat(name, ' | ') FROM article_chemicals c WHERE c.pmid = a.pmid), '')
FROM articles a
"""
TRIAL_TEXT_SQL = """
SELECT t.nct_id, coalesce(t.brief_title, '') || ' ' || coalesce(t.official_title, '') || ' ' ||
  coalesce(t.brief_summary, '') || ' ' || coalesce(t.conditions, '') || ' ' || coalesce(t.interventions, '') || ' ' ||
  coalesce((SELECT group_concat(condition, ' | ') FROM trial_conditions c WHERE c.nct_id = t.nct_id), '') || ' ' ||
  coalesce((SELECT group_concat(term, ' | ') FROM trial_intervention_mesh i WHERE i.nct_id = t.nct_id), '') || ' ' ||
  coalesce((SELECT group_concat(name || ' ' || coalesce(other_names, ''), ' | ')
            FROM trial_interventions i WHERE i.nct_id = t.nct_id), '')
FROM trials t
"""


def _grouped(conn, sql: str, params: list) -> dict:
    out: dict = {}
    for key, value in conn.execute(sql, params):
        out.setdefault(key, set()).add(value)
    return out
