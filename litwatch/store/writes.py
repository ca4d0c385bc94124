"""Writing records: one path for every source.

A batch of parsed records is fingerprinted, compared with what is stored and written in
one transaction: new records are inserted, revised ones replace their row and child rows,
unchanged ones are only marked as seen by the run. Which of two copies of a record is the
newer one is the source's business (its ``rank`` function); this module only applies the
answer, so the rule is the same on every path (fetch, import, link-following).
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, fields
from operator import itemgetter
from typing import Any, Callable, Iterable, NamedTuple, Sequence

from .db import transaction
from .schema import TABLES
from .spec import Family

Record = dict[str, Any]  # {"articles": row, "article_authors": [rows], ...}
ORIGINS = {"sample": 1, "import": 2, "live": 3}
# Keep the better origin: a live sighting beats an imported file, which beats the sample.
_ORIGIN_SQL = ("CASE WHEN origin IS NULL THEN :origin WHEN :rank > (CASE origin WHEN 'live' THEN 3 "
               "WHEN 'import' THEN 2 ELSE 1 END) THEN :origin ELSE origin END")
CHUNK = 900  # keys per IN (...) query, under SQLite's default variable limit


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
    repeated: int = 0

    def as_row(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def add(self, other: "Counts") -> None:
        for f in fields(self):
            if f.name != "expected":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class Prepared(NamedTuple):
    """A parsed record as row tuples in column order, with its fingerprint."""

    key: Any
    row: tuple
    children: dict[str, list[tuple]]
    digest: str
    record: Record


# rank(incoming record, stored rank values) > 0: incoming is newer; 0: no evidence either
# way (the later arrival wins); < 0: incoming is older and is not stored.
Rank = Callable[[Record, tuple], int]


@dataclass(frozen=True)
class Writer:
    """How a family's records are written: its tables and the source's recency rule."""

    family: Family
    rank_sql: str = ""  # stored values ``rank`` compares against, e.g. "last_update_posted"
    rank: Rank | None = None
    rank_values: Callable[[Record], tuple] | None = None  # the same values of a parsed record

    @property
    def content(self) -> list[str]:
        return self.family.content(TABLES)


def prepare(writer: Writer, records: Iterable[Record]) -> list[Prepared]:
    """Rows of parsed records in table column order, fingerprinted.

    The fingerprint covers every value litwatch stores for a record, so a revised record is
    told from an unchanged one whatever changed.
    """
    family = writer.family
    main = itemgetter(*writer.content)
    children = {name: itemgetter(*TABLES[name].names) for name in family.children}
    out = []
    for rec in records:
        row = main(rec[family.table])
        kids = {name: [get(r) for r in rec[name]] for name, get in children.items()}
        digest = hashlib.sha1(repr((row, kids)).encode()).hexdigest()
        out.append(Prepared(row[0], row, kids, digest, rec))
    return out


def stored_rows(conn: sqlite3.Connection, table: str, key: str, columns: str, keys: Sequence[Any]) -> dict[Any, tuple]:
    """``{key: (columns...)}`` for the stored rows among ``keys``."""
    found: dict[Any, tuple] = {}
    for i in range(0, len(keys), CHUNK):
        chunk = list(keys[i:i + CHUNK])
        sql = f"SELECT {key}, {columns} FROM [{table}] WHERE {key} IN ({','.join('?' * len(chunk))})"
        found.update((row[0], row[1:]) for row in conn.execute(sql, chunk))
    return found


@dataclass
class Outcome:
    """What a save did, record by record, for hooks that follow it (history, evidence)."""

    new: list[Prepared]
    updated: list[tuple[Prepared, tuple]]  # with the stored (hash, seen, rank...) values
    counts: Counts


def save(conn: sqlite3.Connection, writer: Writer, records: Sequence[Record], *, run_id: int | None,
         topic: str | None = None, origin: str = "live",
         also: Callable[[sqlite3.Connection, "Outcome"], None] | None = None) -> Counts:
    """Store a batch of parsed records in one transaction and count what happened.

    - a key not stored yet is **new**;
    - a copy identical to the stored one is **unchanged** (only marked as seen);
    - a different copy that the source ranks newer, or cannot rank (the later arrival
      wins), is **updated**: its row is rewritten and its child rows replaced;
    - a copy the source ranks older is **skipped**, the stored one kept;
    - a key this run already received is **repeated** (counted once in ``received``).

    ``also`` runs inside the same transaction, after the writes (e.g. change history).
    """
    family = writer.family
    counts = Counts()
    if not records:
        return counts
    batch: dict[Any, Prepared] = {}
    for p in prepare(writer, records):
        earlier = batch.get(p.key)
        counts.repeated += earlier is not None
        if earlier is None or writer.rank is None or writer.rank_values is None or \
                writer.rank(p.record, writer.rank_values(earlier.record)) >= 0:
            batch[p.key] = p
    rank_cols = f", {writer.rank_sql}" if writer.rank_sql else ""
    stored = stored_rows(conn, family.table, family.key, f"record_hash, seen_run_id{rank_cols}", list(batch))
    new: list[Prepared] = []
    updated: list[tuple[Prepared, tuple]] = []
    touched: list[Any] = []
    for key, p in batch.items():
        old = stored.get(key)
        if old is None:
            new.append(p)
            counts.received += 1
            counts.new += 1
            continue
        again = run_id is not None and old[1] == run_id
        if again:
            counts.repeated += 1
        else:
            counts.received += 1
        if old[0] == p.digest:
            counts.unchanged += not again
            touched.append(key)
        elif writer.rank is not None and writer.rank(p.record, old[2:]) < 0:
            counts.skipped += not again
            touched.append(key)
        else:
            counts.updated += not again
            updated.append((p, old))
    content = writer.content
    meta = {"run": run_id, "origin": origin, "rank": ORIGINS[origin]}
    with transaction(conn):
        if new:
            cols = ", ".join(f"[{c}]" for c in content)
            marks = ", ".join("?" * len(content))
            conn.executemany(
                f"INSERT INTO [{family.table}] ({cols}, record_hash, first_run_id, changed_run_id, seen_run_id, "
                f"origin) VALUES ({marks}, ?, ?, ?, ?, ?)",
                [p.row + (p.digest, run_id, run_id, run_id, origin) for p in new])
        if updated:
            keys = [(p.key,) for p, _ in updated]
            for name in family.children:
                conn.executemany(f"DELETE FROM [{name}] WHERE {family.key} = ?", keys)
            sets = ", ".join(f"[{c}] = ?" for c in content[1:])
            conn.executemany(
                f"UPDATE [{family.table}] SET {sets}, record_hash = ?, changed_run_id = ?, seen_run_id = ?, "
                f"origin = {_ORIGIN_SQL.replace(':origin', '?').replace(':rank', '?')} WHERE {family.key} = ?",
                [p.row[1:] + (p.digest, run_id, run_id, origin, meta["rank"], origin, p.key) for p, _ in updated])
        written = new + [p for p, _ in updated]
        for name in family.children:
            rows = [row for p in written for row in p.children[name]]
            if rows:
                marks = ", ".join("?" * len(TABLES[name].columns))
                conn.executemany(f"INSERT OR REPLACE INTO [{name}] VALUES ({marks})", rows)
        if touched:
            conn.executemany(f"UPDATE [{family.table}] SET seen_run_id = :run, origin = {_ORIGIN_SQL} "
                             f"WHERE {family.key} = :key", [dict(meta, key=k) for k in touched])
        if topic:
            conn.executemany(f"INSERT OR IGNORE INTO [{family.topics}] ({family.key}, topic, first_run_id) "
                             f"VALUES (?, ?, ?)", [(k, topic, run_id) for k in batch])
        if also:
            also(conn, Outcome(new, updated, counts))
    return counts


def delete(conn: sqlite3.Connection, family: Family, keys: Sequence[Any]) -> int:
    """Delete records with their child and topic rows; return how many existed."""
    if not keys:
        return 0
    with transaction(conn):
        present = [(k,) for k in stored_rows(conn, family.table, family.key, "1", list(keys))]
        for name in (*family.children, family.topics):
            conn.executemany(f"DELETE FROM [{name}] WHERE {family.key} = ?", present)
        conn.executemany(f"DELETE FROM [{family.table}] WHERE {family.key} = ?", present)
    return len(present)
