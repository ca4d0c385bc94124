"""The evidence layer, derived from stored records: paper-trial links, study designs,
retraction and correction flags, relevance to each topic.

Work grows with the change, not with the store. Designs and flags are derived from each
record as it is written (the source's ``Writer.derive``). :func:`refresh` remembers the last
run it covered (settings row ``evidence_run``); it then rewrites the links of the records
stored or changed since (found through the ``changed_run_id`` index) and of those deleted
since, and the relevance of those records and of records that joined a topic since, and
nothing else. The whole layer is recomputed only when it must be: after a schema upgrade or
a reparse (settings row ``evidence``), or for a topic whose concepts changed in the
configuration.

Relevance of a record to a topic, from the topic's two concepts (``intervention_terms`` and
``condition_terms``, looked for as whole words in the record's title, abstract, MeSH,
keywords and substances; for trials, titles, summary, conditions, interventions and their
MeSH): ``core`` when both appear, ``intervention`` or ``condition`` when only that one does,
``none`` when neither does. A core record joins the topic even when no query of the topic
brought it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from typing import Any, Iterable

from .settings import Topic
from .designs import RULES_VERSION
from .sources import all_sources
from .sources.base import Source, in_keys
from .store.db import transaction
from .store.writes import changed_since

RELEVANCE = ("core", "intervention", "condition", "none")


def refresh(conn: sqlite3.Connection, topics: Iterable[Topic], *, full: bool = False) -> dict[str, Any]:
    """Bring the evidence layer up to date with the records written since the last refresh
    (all records when ``full``, or when the store says the layer is stale); return counts of
    what it holds."""
    topics = list(topics)
    with transaction(conn):
        full = full or _setting(conn, "evidence") != "current" or _new_rules(conn)
        since = int(_setting(conn, "evidence_run") or 0)
        last = conn.execute("SELECT coalesce(max(id), 0) FROM runs").fetchone()[0]
        changed = {}
        for source in all_sources():
            if full:
                source.classify(conn)
                source.links(conn, None)
            else:
                changed[source.name] = changed_since(conn, source.family, since)
                gone = source.deleted_since(conn, since)
                if changed[source.name] or gone:
                    source.links(conn, changed[source.name] + gone)
        _versions(conn)
        # A link seen for the first time is dated by the last run before this refresh.
        conn.execute("INSERT OR IGNORE INTO link_history (paper_id, nct_id, first_run_id) "
                     "SELECT DISTINCT paper_id, nct_id, ? FROM paper_trial_links", [last or None])
        left_out: dict[str, int] = {}
        for topic in topics:
            stale = full or _setting(conn, f"topic:{topic.name}") != _concepts(topic)
            for source in all_sources():
                if stale:
                    left_out[topic.name] = left_out.get(topic.name, 0) + relate(conn, topic, source, None)
                    continue
                table, key = source.family.topics, source.family.key
                joined = [r[0] for r in conn.execute(
                    f"SELECT {key} FROM [{table}] WHERE topic = ? AND relevance IS NULL", [topic.name])]
                keys = list(dict.fromkeys(changed[source.name] + joined))
                if keys:
                    left_out[topic.name] = left_out.get(topic.name, 0) + relate(conn, topic, source, keys)
            _remember(conn, f"topic:{topic.name}", _concepts(topic))
        _remember(conn, "evidence", "current")
        _remember(conn, "evidence_run", str(last))
        return {**counts(conn, topics), "left_out": {name: n for name, n in left_out.items() if n}}


def outdated(conn: sqlite3.Connection) -> bool:
    """Whether the stored designs were derived by older design rules than this litwatch's."""
    rules = _setting(conn, "design_rules")
    return rules is not None and rules != str(RULES_VERSION)


def _new_rules(conn: sqlite3.Connection) -> bool:
    """When the design rules changed since the designs were derived, have every derived column
    computed again (and say so); a store without the setting was derived by these rules."""
    if not outdated(conn):
        _remember(conn, "design_rules", str(RULES_VERSION))
        return False
    for source in all_sources():
        if source.writer.derive is not None:
            conn.execute(f"UPDATE [{source.family.table}] SET derived_hash = NULL")
    _remember(conn, "design_rules", str(RULES_VERSION))
    return True


def stale(conn: sqlite3.Connection, topics: Iterable[Topic]) -> list[Topic]:
    """The topics whose records were placed with other concepts than they have now (a topic
    whose terms were edited, or a topic new to a store that holds records): what depends on
    them must be recomputed before it is read."""
    records = any(conn.execute(f"SELECT 1 FROM [{s.family.table}] LIMIT 1").fetchone() for s in all_sources())
    return [t for t in topics if _setting(conn, f"topic:{t.name}") != _concepts(t)
            and (records or _setting(conn, f"topic:{t.name}") is not None)]


def _versions(conn: sqlite3.Connection) -> None:
    """Which stored preprints are earlier versions of stored papers, as the sources tell
    (``paper_versions``): recomputed whole, preprints are few."""
    found = [row for source in all_sources() for row in source.versions(conn)]
    conn.execute("DELETE FROM paper_versions")
    conn.executemany("INSERT OR IGNORE INTO paper_versions (paper_id, version_id, how) VALUES (?, ?, ?)", found)


def joined(conn: sqlite3.Connection, topic: str, runs: list[int]) -> dict[str, int]:
    """How many records the runs placed in ``topic`` are on it (core: both concepts) and
    how many are related (one concept)."""
    out = {"core": 0, "related": 0}
    marks = ",".join(str(int(r)) for r in runs) or "NULL"
    for source in all_sources():
        for level, n in conn.execute(f"SELECT relevance, count(*) FROM [{source.family.topics}] WHERE topic = ? "
                                     f"AND first_run_id IN ({marks}) GROUP BY relevance", [topic]):
            if level == "core":
                out["core"] += n
            elif level in ("intervention", "condition"):
                out["related"] += n
    return out


def mark_stale(conn: sqlite3.Connection) -> None:
    """Have the next refresh recompute the whole layer (after a reparse or an upgrade)."""
    _remember(conn, "evidence", "stale")


def counts(conn: sqlite3.Connection, topics: list[Topic]) -> dict[str, int]:
    """How many links the store holds, how many papers (whichever sources hold them) and trials
    are core to some topic, and how many records of each source (``core_<table>``)."""
    out = {"links": conn.execute("SELECT count(*) FROM paper_trial_links").fetchone()[0],
           "core_papers": conn.execute("SELECT count(DISTINCT paper_id) FROM paper_topics "
                                       "WHERE relevance = 'core'").fetchone()[0], "core_trials": 0}
    for source in all_sources():
        family = source.family
        out[f"core_{family.table}"] = conn.execute(
            f"SELECT count(DISTINCT {family.key}) FROM [{family.topics}] WHERE relevance = 'core'").fetchone()[0]
        if source.holds == "trials":
            out["core_trials"] += out[f"core_{family.table}"]
    return out


class Concept:
    """Terms of one of a topic's concepts, found case-insensitively where a word starts
    ("dissociat" finds "dissociative", "PTSD" does not find "aPTSD"). The same test as the
    regular expression ``\\b(term|...)`` with IGNORECASE, done with ``str.find`` on the
    lower-cased text: several times faster over whole abstracts."""

    def __init__(self, terms: Iterable[str]):
        self.terms = [t.strip().lower() for t in terms if t.strip()]

    def __bool__(self) -> bool:
        return bool(self.terms)

    def search(self, lowered: str) -> bool:
        """Whether the (already lower-cased) text mentions a term."""
        for term in self.terms:
            at = lowered.find(term)
            while at >= 0:
                if at == 0 or not (lowered[at - 1].isalnum() or lowered[at - 1] == "_"):
                    return True
                at = lowered.find(term, at + 1)
        return False


def concept_pattern(terms: Iterable[str]) -> re.Pattern | None:
    """A case-insensitive pattern matching any of ``terms`` where a word starts (for texts
    searched once, e.g. a claim's terms in a report)."""
    terms = [t for t in terms if t.strip()]
    if not terms:
        return None
    return re.compile(r"\b(" + "|".join(re.escape(t.strip()) for t in terms) + r")", re.IGNORECASE)


def relevance(text: str, intervention: Concept, condition: Concept) -> str:
    """core, intervention, condition or none: which of the topic's concepts ``text`` mentions."""
    lowered = text.lower()
    has_intervention = intervention.search(lowered)
    has_condition = condition.search(lowered)
    if has_intervention and has_condition:
        return "core"
    return "intervention" if has_intervention else "condition" if has_condition else "none"


def relate(conn: sqlite3.Connection, topic: Topic, source: Source, keys: list | None = None) -> int:
    """Set the relevance to ``topic`` of the source's records ``keys`` (all when None): the
    topic's members get theirs; core records join the topic; records that only concept
    matching had placed in it leave when they are no longer core; imported records that match
    neither concept leave it too (a file joins a topic only as far as it matches). Returns
    how many imported records were left out."""
    left_out = 0
    if not source.relevance_text_sql:
        return left_out
    intervention, condition = Concept(topic.intervention_terms), Concept(topic.condition_terms)
    table, key = source.family.topics, source.family.key
    for where, params in in_keys(source.relevance_key, keys):
        cursor = conn.execute(source.relevance_text_sql + where, params)
        while rows := cursor.fetchmany(2000):  # the whole store, when a topic changed: a chunk at a time
            found = [(k, relevance(text or "", intervention, condition)) for k, text in rows]
            conn.executemany(f"UPDATE [{table}] SET relevance = ? WHERE {key} = ? AND topic = ?",
                             [(level, k, topic.name) for k, level in found])
            # A record that joins by its concepts is news from its first live sighting, if any.
            conn.executemany(f"INSERT INTO [{table}] ({key}, topic, relevance, live_run_id) SELECT ?, ?, 'core', "
                             f"live_run_id FROM [{source.family.table}] WHERE {key} = ? "
                             f"ON CONFLICT ({key}, topic) DO NOTHING",
                             [(k, topic.name, k) for k, level in found if level == "core"])
            conn.executemany(f"DELETE FROM [{table}] WHERE {key} = ? AND topic = ? AND first_run_id IS NULL",
                             [(k, topic.name) for k, level in found if level != "core"])
            before = conn.total_changes
            conn.executemany(f"DELETE FROM [{table}] WHERE {key} = ? AND topic = ? AND first_run_id IN "
                             f"(SELECT id FROM runs WHERE kind = 'import')",
                             [(k, topic.name) for k, level in found if level == "none"])
            left_out += conn.total_changes - before
    return left_out


def _concepts(topic: Topic) -> str:
    """A fingerprint of what the topic's relevance depends on."""
    text = json.dumps([topic.intervention_terms, topic.condition_terms])
    return hashlib.sha1(text.encode()).hexdigest()


def _setting(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def _remember(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
                 "excluded.value", [key, value])
