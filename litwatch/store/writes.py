"""Writing records: one path for every source.

A batch of parsed records is fingerprinted, compared with what is stored and written in
one transaction: new records are inserted, newer copies replace their row and child rows,
unchanged ones are only marked as seen by the run, older copies are skipped. Which of two
copies of a record is the newer one is the source's rule (its :class:`Writer`); this module
applies it the same way on every path (fetch, import, link-following, reparse).
"""

from __future__ import annotations

import hashlib
import marshal
import sqlite3
from dataclasses import dataclass, fields
from operator import itemgetter
from typing import Any, Callable, Iterable, NamedTuple, Sequence

from ..errors import LitwatchError
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
    """A parsed record as rows: the main table's content values in column order, each child
    table's rows as tuples (key first), the fingerprint of all of them, and the record as the
    source sent it (for the raw archive) when the source keeps it there."""

    key: Any
    row: tuple
    children: dict[str, list[tuple]]
    digest: str
    raw: bytes | None = None


def fingerprint(row: tuple, children: dict[str, list[tuple]]) -> str:
    """A digest of every value stored for a record, to tell revisions from repeats. marshal
    (format 2: no back-references, so equal values always encode alike) is an exact encoding
    of tuples of str/int/float/None, several times cheaper than ``repr``."""
    return hashlib.blake2b(marshal.dumps((row, tuple(children.values())), 2), digest_size=16).hexdigest()


def raw_fingerprint(raw: bytes) -> str:
    """A digest of a record as its source sent it: cheaper than hashing the parsed values, and
    it changes exactly when the source's copy does."""
    return hashlib.sha1(raw).hexdigest()


# rank(incoming, stored rank values) > 0: incoming is newer; 0: no evidence either way (the
# later arrival wins); < 0: incoming is older and is not stored.
Rank = Callable[[Prepared, tuple], int]


@dataclass(frozen=True)
class History:
    """A family's change table: when a newer copy replaces a stored record, one row per
    tracked column whose value changed (content or derived columns: a retraction, a design
    now indexed...); and, when ``first_sighting`` names a column, a 'new' row holding it the
    first time a record is stored. ``dated_by`` is the record's own date of the change (a
    content column), copied into the row under the same name."""

    table: str
    fields: tuple[str, ...]
    dated_by: str
    first_sighting: str | None = None


@dataclass(frozen=True)
class Writer:
    """How a family's records are written: its tables and the source's recency rule
    (``rank_sql`` selects the stored values ``rank`` compares with; ``rank_values`` gives the
    same values of a record not yet stored)."""

    family: Family
    rank_sql: str = ""
    rank: Rank | None = None
    rank_values: Callable[[Prepared], tuple] | None = None
    raw: bool = False  # the source's records go to the raw archive (raw_blocks)
    # The evidence columns computed from a record's own rows (design...), written with it.
    derived: tuple[str, ...] = ()
    derive: Callable[[Prepared], tuple] | None = None
    history: History | None = None

    @property
    def content(self) -> list[str]:
        return self.family.content(TABLES)

    def column(self, name: str) -> int:
        """Position of a content column in ``Prepared.row``."""
        return self.content.index(name)


def prepare(writer: Writer, records: Iterable[Record | Prepared]) -> list[Prepared]:
    """Rows of parsed records in table column order, fingerprinted; records already
    prepared by their parser pass through."""
    family = writer.family
    main = itemgetter(*writer.content)
    children = {name: itemgetter(*TABLES[name].names) for name in family.children}
    out = []
    for rec in records:
        if isinstance(rec, Prepared):
            out.append(rec)
            continue
        row = tuple(_plain(v) for v in main(rec[family.table]))
        kids = {name: [tuple(_plain(v) for v in get(r)) for r in rec[name]] for name, get in children.items()}
        out.append(Prepared(row[0], row, kids, fingerprint(row, kids)))
    return out


def _plain(value: Any) -> Any:
    """Booleans as SQLite stores them (and as the fingerprint must see them)."""
    return int(value) if isinstance(value, bool) else value


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
    updated: list[tuple[Prepared, tuple]]  # with the stored (hash, seen, raw block, rank...) values
    counts: Counts


def save(conn: sqlite3.Connection, writer: Writer, records: Sequence[Record | Prepared], *, run_id: int | None,
         topic: str | None = None, origin: str = "live",
         also: Callable[[sqlite3.Connection, Outcome], None] | None = None) -> Counts:
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
        if earlier is None or _newer_or_same(writer, p, earlier):
            batch[p.key] = p
    raw_col = ", raw_block" if writer.raw else ", NULL"
    rank_cols = f", {writer.rank_sql}" if writer.rank_sql else ""
    tracked = "".join(f", [{c}]" for c in writer.history.fields) if writer.history else ""
    stored = stored_rows(conn, family.table, family.key, f"record_hash, seen_run_id{raw_col}{rank_cols}{tracked}",
                         list(batch))
    ranked = 3 + (len(writer.rank_values(next(iter(batch.values())))) if writer.rank_values else 0)
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
        elif writer.rank is not None and writer.rank(p, old[3:ranked]) < 0:
            counts.skipped += not again
            touched.append(key)
        else:
            counts.updated += not again
            updated.append((p, old))
    meta = {"run": run_id, "origin": origin, "rank": ORIGINS[origin]}
    live = run_id if origin == "live" else None
    with transaction(conn):
        _write(conn, writer, new, updated, meta)
        if touched:
            conn.executemany(f"UPDATE [{family.table}] SET seen_run_id = :run, origin = {_ORIGIN_SQL}, "
                             f"live_run_id = coalesce(live_run_id, :live) WHERE {family.key} = :key",
                             [dict(meta, key=k, live=live) for k in touched])
        if topic:
            conn.executemany(f"INSERT OR IGNORE INTO [{family.topics}] ({family.key}, topic, first_run_id, "
                             f"live_run_id) VALUES (?, ?, ?, ?)", [(k, topic, run_id, live) for k in batch])
        if live is not None:
            seen_live(conn, family, list(batch), live)
        if writer.history:
            _record_history(conn, writer, new, [(p, old[ranked:]) for p, old in updated], run_id)
        if also:
            also(conn, Outcome(new, updated, counts))
    return counts


def seen_live(conn: sqlite3.Connection, family: Family, keys: Sequence[Any], run_id: int) -> None:
    """A live run received these records: in every topic that holds them and had only seen them
    in files or the bundled sample, they are news from this run on."""
    for i in range(0, len(keys), CHUNK):
        chunk = list(keys[i:i + CHUNK])
        conn.execute(f"UPDATE [{family.topics}] SET live_run_id = ? WHERE live_run_id IS NULL "
                     f"AND {family.key} IN ({','.join('?' * len(chunk))})", [run_id, *chunk])


def _record_history(conn: sqlite3.Connection, writer: Writer, new: list[Prepared],
                    updated: list[tuple[Prepared, tuple]], run_id: int | None) -> None:
    """The change rows of a saved batch (see :class:`History`)."""
    history = writer.history
    assert history is not None
    dated = writer.column(history.dated_by)
    rows: list[tuple[Any, int | None, str, str | None, str | None, Any]] = []
    if history.first_sighting:
        first = writer.column(history.first_sighting)
        rows += [(p.key, run_id, "new", None, history_text(p.row[first]), p.row[dated]) for p in new]
    for p, before in updated:
        derived = writer.derive(p) if writer.derive else ()
        for field, old in zip(history.fields, before, strict=True):
            value = derived[writer.derived.index(field)] if field in writer.derived else p.row[writer.column(field)]
            if history_text(old) != history_text(value):
                rows.append((p.key, run_id, field, history_text(old), history_text(value), p.row[dated]))
    conn.executemany(f"INSERT INTO [{history.table}] ({writer.family.key}, run_id, field, old_value, new_value, "
                     f"[{history.dated_by}]) VALUES (?, ?, ?, ?, ?, ?)", rows)


def history_text(value: Any) -> str | None:
    """A value as change-history text: booleans as 0/1, like SQLite stores them."""
    if value is None:
        return None
    return str(int(value)) if isinstance(value, bool) else str(value)


def _newer_or_same(writer: Writer, p: Prepared, earlier: Prepared) -> bool:
    if writer.rank is None or writer.rank_values is None:
        return True
    return writer.rank(p, writer.rank_values(earlier)) >= 0


def _write(conn: sqlite3.Connection, writer: Writer, new: list[Prepared], updated: list[tuple[Prepared, tuple]],
           meta: dict[str, Any]) -> None:
    """Insert new records (and index them for full-text search), rewrite updated ones (their
    child rows replaced), archive raw copies, with the evidence columns derived from each."""
    family, content = writer.family, writer.content
    run, origin = meta["run"], meta["origin"]
    written = new + [p for p, _ in updated]
    places = _archive(conn, written) if writer.raw else {}
    nowhere = (None, None, None)
    derive = writer.derive
    derived = [f"[{c}]" for c in writer.derived] + (["derived_hash"] if derive else [])
    if new:
        cols = ", ".join([f"[{c}]" for c in content] + derived + [
            "record_hash", "first_run_id", "changed_run_id", "seen_run_id", "origin", "live_run_id"]
            + (["raw_block", "raw_offset", "raw_length"] if writer.raw else []))
        width = len(content) + len(derived) + 6 + (3 if writer.raw else 0)
        live = run if origin == "live" else None
        conn.executemany(
            f"INSERT INTO [{family.table}] ({cols}) VALUES ({', '.join('?' * width)})",
            [p.row + (derive(p) + (p.digest,) if derive else ()) + (p.digest, run, run, run, origin, live)
             + (places.get(p.key, nowhere) if writer.raw else ()) for p in new])
        _index_text(conn, family, [p.key for p in new])
    if updated:
        keys = [(p.key,) for p, _ in updated]
        for name in family.children:
            conn.executemany(f"DELETE FROM [{name}] WHERE {family.key} = ?", keys)
        sets = ", ".join(f"[{c}] = ?" for c in content[1:])
        derived_sets = "".join(f", {c} = ?" for c in derived)
        origin_sql = _ORIGIN_SQL.replace(":origin", "?").replace(":rank", "?")
        raw_sets = ", raw_block = ?, raw_offset = ?, raw_length = ?" if writer.raw else ""
        conn.executemany(
            f"UPDATE [{family.table}] SET {sets}{derived_sets}, record_hash = ?, changed_run_id = ?, "
            f"seen_run_id = ?, origin = {origin_sql}, live_run_id = coalesce(live_run_id, ?){raw_sets} "
            f"WHERE {family.key} = ?",
            [p.row[1:] + (derive(p) + (p.digest,) if derive else ())
             + (p.digest, run, run, origin, meta["rank"], origin, run if origin == "live" else None)
             + (places.get(p.key, nowhere) if writer.raw else ()) + (p.key,) for p, _ in updated])
        if writer.raw:
            release_blocks(conn, [old[2] for _, old in updated if old[2] is not None])
    for name in family.children:
        rows = [row for p in written for row in p.children[name]]
        if rows:
            marks = ", ".join("?" * len(TABLES[name].columns))
            conn.executemany(f"INSERT OR REPLACE INTO [{name}] VALUES ({marks})", rows)


def _archive(conn: sqlite3.Connection, records: list[Prepared]) -> dict[Any, tuple[int, int, int]]:
    """Store the raw copies of ``records`` as one compressed block; return each record's
    (block, offset, length)."""
    from .raw import compress

    places: dict[Any, tuple[int, int, int]] = {}
    parts, offset = [], 0
    for p in records:
        if p.raw:
            places[p.key] = (0, offset, len(p.raw))
            parts.append(p.raw)
            offset += len(p.raw)
    if not parts:
        return {}
    codec, data = compress(b"".join(parts))
    block = conn.execute("INSERT INTO raw_blocks (codec, refs, data) VALUES (?, ?, ?)",
                         (codec, len(places), data)).lastrowid
    if block is None:  # sqlite3 sets it after every INSERT of one row
        raise LitwatchError("the raw copies could not be stored (SQLite returned no row id)")
    return {key: (block, start, length) for key, (_, start, length) in places.items()}


def release_blocks(conn: sqlite3.Connection, blocks: Iterable[int]) -> None:
    """Records no longer point into these raw blocks (one call per record): a block nothing
    points into is deleted."""
    conn.executemany("UPDATE raw_blocks SET refs = refs - 1 WHERE id = ?", [(b,) for b in blocks])
    conn.execute("DELETE FROM raw_blocks WHERE refs <= 0")


def _index_text(conn: sqlite3.Connection, family: Family, keys: list[Any]) -> None:
    """Add new rows to the family's full-text index, in one statement per chunk."""
    if not family.fts or not keys:
        return
    cols = ", ".join(f"[{c}]" for c in family.fts)
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i:i + CHUNK]
        conn.execute(f"INSERT INTO [{family.table}_fts] (rowid, {cols}) SELECT rowid, {cols} FROM [{family.table}] "
                     f"WHERE {family.key} IN ({','.join('?' * len(chunk))})", chunk)


def changed_since(conn: sqlite3.Connection, family: Family, run_id: int) -> list[Any]:
    """Keys of the family's records stored or changed by runs after ``run_id``, through the
    changed_run_id index: work grows with the change, not with the store."""
    return [r[0] for r in conn.execute(f"SELECT {family.key} FROM [{family.table}] WHERE changed_run_id > ?",
                                       [run_id])]


def delete(conn: sqlite3.Connection, family: Family, keys: Sequence[Any], *, raw: bool = False) -> int:
    """Delete records with their child and topic rows; return how many existed."""
    if not keys:
        return 0
    with transaction(conn):
        found = stored_rows(conn, family.table, family.key, "raw_block" if raw else "1", list(keys))
        present = [(k,) for k in found]
        for name in (*family.children, family.topics):
            conn.executemany(f"DELETE FROM [{name}] WHERE {family.key} = ?", present)
        conn.executemany(f"DELETE FROM [{family.table}] WHERE {family.key} = ?", present)
        if raw:
            release_blocks(conn, [v[0] for v in found.values() if v[0] is not None])
    return len(present)


def rewrite(conn: sqlite3.Connection, writer: Writer, records: Sequence[Prepared]) -> int:
    """Replace the stored rows of records with freshly parsed ones (a reparse of their raw
    copies): content, child rows and fingerprint change; run numbers, origin and the raw copy
    stay; the derived columns are recomputed by the next evidence refresh. Returns how many
    rows changed."""
    family, content = writer.family, writer.content
    stored = stored_rows(conn, family.table, family.key, "record_hash", [p.key for p in records])
    sets = ", ".join(f"[{c}] = ?" for c in content[1:])
    changed = 0
    with transaction(conn):
        todo = [p for p in records if p.key in stored]
        keys = [(p.key,) for p in todo]
        for name in family.children:
            conn.executemany(f"DELETE FROM [{name}] WHERE {family.key} = ?", keys)
        for p in todo:
            before = conn.execute(f"SELECT {', '.join(f'[{c}]' for c in content)} FROM [{family.table}] "
                                  f"WHERE {family.key} = ?", [p.key]).fetchone()
            changed += tuple(before) != p.row
        conn.executemany(f"UPDATE [{family.table}] SET {sets}, record_hash = ?, derived_hash = NULL "
                         f"WHERE {family.key} = ?", [p.row[1:] + (p.digest, p.key) for p in todo])
        for name in family.children:
            rows = [row for p in todo for row in p.children[name]]
            if rows:
                marks = ", ".join("?" * len(TABLES[name].columns))
                conn.executemany(f"INSERT OR REPLACE INTO [{name}] VALUES ({marks})", rows)
    return changed


def load(conn: sqlite3.Connection, writer: Writer, keys: Sequence[Any]) -> list[Prepared]:
    """Stored records as :class:`Prepared` rows (their fingerprint as stored), to derive
    evidence from them again."""
    family, content = writer.family, writer.content
    rows = stored_rows(conn, family.table, family.key, ", ".join(f"[{c}]" for c in content[1:]) + ", record_hash",
                       keys)
    children: dict[str, dict[Any, list[tuple]]] = {}
    for name in family.children:
        grouped: dict[Any, list[tuple]] = {}
        for i in range(0, len(keys), CHUNK):
            chunk = list(keys[i:i + CHUNK])
            for r in conn.execute(f"SELECT * FROM [{name}] WHERE {family.key} IN ({','.join('?' * len(chunk))})",
                                  chunk):
                grouped.setdefault(r[0], []).append(tuple(r))
        children[name] = grouped
    return [Prepared(key, (key, *values[:-1]), {name: children[name].get(key, []) for name in family.children},
                     values[-1]) for key, values in rows.items()]
