"""The evidence layer, derived from stored records: paper-trial links, study designs,
retraction and correction flags, relevance to each topic.

Everything here is recomputed from the source tables, so it is always consistent with
them: links and relevance are rebuilt whole (they depend on every source and on the
topics), designs and flags only for records whose content changed since they were last
derived (``derived_hash`` differs from ``record_hash``). Each source says how its records
feed the layer (:meth:`~litwatch.sources.base.Source.classify`, ``add_links``,
``relevance_text_sql``); :func:`refresh` runs it all and is called after every fetch and
import.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Iterable

from .config import Topic
from .sources import all_sources
from .store.db import transaction

NCT_ID = re.compile(r"\bNCT\s?(\d{8})\b", re.IGNORECASE)


def refresh(conn: sqlite3.Connection, topics: Iterable[Topic]) -> dict[str, int]:
    """Recompute the whole evidence layer; return counts of what it holds."""
    with transaction(conn):
        for source in all_sources():
            source.classify(conn)
        links = rebuild_links(conn)
        relevance = rebuild_relevance(conn, list(topics))
    return {"links": links, **relevance}


def rebuild_links(conn: sqlite3.Connection) -> int:
    """Rebuild paper_trial_links from every evidence there is; return the row count."""
    conn.execute("DELETE FROM paper_trial_links")
    for source in all_sources():
        source.add_links(conn)
    return conn.execute("SELECT count(*) FROM paper_trial_links").fetchone()[0]


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
    counts = {f"core_{source.family.table}": 0 for source in all_sources()}
    for topic in topics:
        intervention = concept_pattern(topic.intervention_terms)
        condition = concept_pattern(topic.condition_terms)
        for source in all_sources():
            table, key = source.family.topics, source.family.key
            core = []
            if intervention and condition and source.relevance_text_sql:
                for record_id, text in conn.execute(source.relevance_text_sql):
                    if intervention.search(text) and condition.search(text):
                        core.append(record_id)
            # Rows that only concept matching added are recomputed; query members stay.
            conn.execute(f"DELETE FROM [{table}] WHERE topic = ? AND first_run_id IS NULL", [topic.name])
            conn.execute(f"UPDATE [{table}] SET relevance = 'peripheral' WHERE topic = ?", [topic.name])
            conn.executemany(f"INSERT INTO [{table}] ({key}, topic, relevance) VALUES (?, ?, 'core') "
                             f"ON CONFLICT ({key}, topic) DO UPDATE SET relevance = 'core'",
                             [(record_id, topic.name) for record_id in core])
            counts[f"core_{source.family.table}"] += len(core)
    return counts
