"""How a table is declared: its columns (each with a type and one line of documentation),
primary key, foreign keys and indexes, and how a record type (a "family": a main table,
its child tables and its topic table) is laid out. Sources declare their tables with these and
hand them to the store, which turns them into SQL (:mod:`litwatch.store.schema`) and writes
through them (:mod:`litwatch.store.writes`): the store itself knows no source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

SQL_TYPES = {int: "INTEGER", str: "TEXT", float: "REAL", bytes: "BLOB"}


def sql_text(value: str) -> str:
    """A string as an SQL literal: ``'it''s'``."""
    return "'" + value.replace("'", "''") + "'"


def sql_in(values: "tuple[str, ...] | list[str] | str") -> str:
    """SQL for ``IN``: ``('a', 'b')`` of constants (a group of statuses, of designs)."""
    values = (values,) if isinstance(values, str) else values
    return "(" + ", ".join(sql_text(v) for v in values) + ")"


@dataclass(frozen=True)
class TableSpec:
    """A table: ``columns`` maps each name to ``(python type, description)``."""

    columns: dict[str, tuple[type, str]]
    pk: str | tuple[str, ...]
    description: str = ""
    foreign_keys: tuple[tuple[str, str, str], ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    # Child tables are read and written by their key: one B-tree instead of table + index.
    without_rowid: bool = False

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    @property
    def types(self) -> dict[str, type]:
        return {name: t for name, (t, _) in self.columns.items()}

    @property
    def docs(self) -> dict[str, str]:
        return {name: doc for name, (_, doc) in self.columns.items()}

    @property
    def pk_columns(self) -> tuple[str, ...]:
        return (self.pk,) if isinstance(self.pk, str) else self.pk


@dataclass(frozen=True)
class View:
    """A view: its SELECT and one line saying what it holds (Datasette and the README show it)."""

    sql: str
    description: str


def topics_table(parent: tuple[str, str, type, str], what: str) -> TableSpec:
    """The topic-membership table of a family whose main table is ``parent`` (see :func:`child`):
    ``what`` names its records in the descriptions ("records", "studies")."""
    return child(parent, {
        "topic": (str, "topic name"),
        "relevance": (str, "core (both of the topic's concepts appear in the record), intervention or condition (only "
                           "that one), none (neither: a query or an import brought it); see litwatch.evidence"),
        "first_run_id": (int, "run whose fetch or tagged import brought the record in (empty when only concept "
                              "matching placed it in the topic)"),
        "live_run_id": (int, "first live run (a fetch, a followed link, a reconcile: not a file or the bundled "
                             "sample) that brought it while it is in the topic: when it is news to the topic's readers "
                             "(events, feed, digest, the report's 'what changed'); empty while only files or the "
                             "sample held it"),
    }, (parent[0], "topic"), f"The {what} of each topic and how central they are to it.",
        indexes=(("topic", "relevance"), ("topic", "live_run_id")))


def child(parent: tuple[str, str, type, str], columns: dict[str, tuple[type, str]],
          pk: tuple[str, ...], description: str, indexes: tuple[tuple[str, ...], ...] = ()) -> TableSpec:
    """A child table of ``parent`` = (key column, parent table, key type, key description)."""
    key, table, key_type, key_doc = parent
    return TableSpec({key: (key_type, key_doc), **columns}, pk, description, ((key, table, key),), indexes,
                     without_rowid=True)


# Columns litwatch adds to every record of a source: not part of its content fingerprint.
# The derived ones are filled by litwatch.evidence.
RECORD_META: dict[str, tuple[type, str]] = {
    "record_hash": (str, "fingerprint of every stored value of the record, to tell revisions apart"),
    "first_run_id": (int, "run that first stored the record (foreign key to runs)"),
    "changed_run_id": (int, "run that last stored a changed version (foreign key to runs)"),
    "seen_run_id": (int, "last run that received the record, changed or not (a run number; not indexed: it "
                         "changes whenever a record is received)"),
    "origin": (str, "where the stored copy came from: live (a fetch), import (a file) or sample (the "
                    "bundled offline sample); a live sighting wins over the others"),
    "live_run_id": (int, "first run that received the record from a live service (a fetch, a followed link, a "
                         "reconcile); empty while only imported files or the bundled sample held it"),
}
RUN_FOREIGN_KEYS = (("first_run_id", "runs", "id"), ("changed_run_id", "runs", "id"))


@dataclass(frozen=True)
class Family:
    """A record type: main table and key, child tables (replaced whole on revision), the
    topic-membership table and the full-text-indexed columns."""

    table: str
    key: str
    children: tuple[str, ...]
    topics: str
    fts: tuple[str, ...] = ()
    # Every table of the source, these and the others it writes (a change table...): what the
    # store creates and writes through for it.
    tables: Mapping[str, TableSpec] = field(default_factory=dict, compare=False, repr=False)

    def content(self) -> list[str]:
        """Main-table columns that come from the source (fingerprinted), key first."""
        return [c for c in self.tables[self.table].columns if c not in BOOKKEEPING]

    def spec(self, name: str) -> TableSpec:
        """The declaration of one of the source's tables."""
        return self.tables[name]


# Columns of main tables computed by litwatch.evidence from the stored content.
DERIVED = {"design", "design_source", "retracted", "corrected", "derived_hash"}
# Main-table columns that are not the record's content: litwatch's bookkeeping.
BOOKKEEPING = set(RECORD_META) | DERIVED | {"raw_block", "raw_offset", "raw_length"}


def doc(spec: TableSpec, column: str) -> str:
    return spec.columns[column][1]
