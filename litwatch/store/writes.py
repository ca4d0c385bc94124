"""Writing records: one path for every source.

A batch of parsed records is fingerprinted, compared with what is stored and written in
one transaction: new records are inserted, newer copies replace their row and child rows,
unchanged ones are only marked as seen by the run, older copies are skipped. Which of two
copies of a record is the newer one is the source's rule (its :class:`Writer`); this module
applies it the same way on every path (fetch, import, link-following, reparse).
"""

from __future__ import annotations

import hashlib
import json
import marshal
import sqlite3
from dataclasses import dataclass, field as dataclass_field, fields
from operator import itemgetter
from typing import Any, Callable, Iterable, NamedTuple, Sequence

from ..errors import LitwatchError
from .db import transaction
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
    """How a family's records are written: its tables, and what its source says of each copy
    of a record for :mod:`litwatch.store.merge` to decide between copies: its ``recency``
    (values stating when it was revised), its ``shape`` (how much a copy of its kind carries:
    higher is richer, up to ``full_shape``) and what it ``says`` of its own state; each is a
    function of an incoming copy and, for the stored one, SQL over the main table (``*_sql``,
    selecting the same values). A source whose copies are JSON documents it can read again names
    the content column holding it (``document``) and how to read one (``rebuild``): its copies
    are then laid over each other field by field. ``unhashed`` columns are stored but left out of
    a record's fingerprint (a document that unions what copies said); ``volatile`` ones are
    refreshed from every copy that states them and never make a record "updated" (a citation
    count)."""

    family: Family
    recency_sql: str = ""
    recency: Callable[[Prepared], tuple] | None = None
    shape_sql: str = "1"
    shape: Callable[[Prepared], int] = lambda p: 1
    full_shape: int = 1
    says_sql: str = ""
    says: Callable[[Prepared], tuple] | None = None
    document: str | None = None
    rebuild: Callable[[dict], Prepared] | None = None
    # The tracked fields a document states (a field-limited copy states some only): a value the
    # stored copy did not state is no change when a richer copy brings it.
    states: Callable[[dict], set[str]] | None = None
    unhashed: tuple[str, ...] = ()
    volatile: tuple[str, ...] = ()
    raw: bool = False  # the source's records go to the raw archive (raw_blocks)
    # The evidence columns computed from a record's own rows (design...), written with it.
    derived: tuple[str, ...] = ()
    derive: Callable[[Prepared], tuple] | None = None
    history: History | None = None

    @property
    def content(self) -> list[str]:
        return self.family.content()

    def column(self, name: str) -> int:
        """Position of a content column in ``Prepared.row``."""
        return self.content.index(name)

    @property
    def hashed(self) -> list[int]:
        """Positions of the content columns a fingerprint covers."""
        skip = set(self.unhashed) | set(self.volatile)
        return [i for i, name in enumerate(self.content) if name not in skip]


def prepare(writer: Writer, records: Iterable[Record | Prepared]) -> list[Prepared]:
    """Rows of parsed records in table column order, fingerprinted; records already
    prepared by their parser pass through."""
    family = writer.family
    main = itemgetter(*writer.content)
    children = {name: itemgetter(*family.spec(name).names) for name in family.children}
    hashed = writer.hashed
    whole = len(hashed) == len(writer.content)
    out = []
    for rec in records:
        if isinstance(rec, Prepared):
            out.append(rec)
            continue
        row = tuple(_plain(v) for v in main(rec[family.table]))
        kids = {name: [tuple(_plain(v) for v in get(r)) for r in rec[name]] for name, get in children.items()}
        out.append(Prepared(row[0], row, kids, fingerprint(row if whole else tuple(row[i] for i in hashed), kids)))
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
class Stored:
    """What the store holds of a record that a copy is weighed against."""

    digest: str
    seen_run_id: int | None
    raw_block: int | None
    recency: tuple
    shape: int
    says: tuple
    volatile: tuple
    tracked: tuple


def save(conn: sqlite3.Connection, writer: Writer, records: Sequence[Record | Prepared], *, run_id: int | None,
         topic: str | None = None, origin: str = "live") -> Counts:
    """Store a batch of parsed records in one transaction and count what happened.

    - a key not stored yet is **new**;
    - a copy whose values equal the stored ones is **unchanged** (only marked as seen; its
      volatile columns, a citation count, refreshed);
    - otherwise :mod:`litwatch.store.merge` decides between the copies from what each says,
      never from which came last: the incoming copy, the stored one, or one laid over the other
      field by field. When the result's values differ from the stored ones, the record is
      **updated** (row rewritten, child rows replaced); when the stored copy stands, **skipped**;
    - a key this run already received is **repeated** (counted once in ``received``), and the
      copies of one batch are weighed against each other the same way.
    """
    family = writer.family
    counts = Counts()
    if not records:
        return counts
    batch: dict[Any, Prepared] = {}
    for p in prepare(writer, records):
        earlier = batch.get(p.key)
        counts.repeated += earlier is not None
        batch[p.key] = p if earlier is None else combine(writer, p, earlier, _incoming(writer, earlier)) or earlier
    plan = _plan(conn, writer, batch, run_id, counts)
    new, updated = plan.new, plan.updated
    meta = {"run": run_id, "origin": origin, "rank": ORIGINS[origin]}
    live = run_id if origin == "live" else None
    stated = _stated(conn, writer, updated) if writer.history else {}  # read before the rows are rewritten
    with transaction(conn):
        _write(conn, writer, new, updated, meta)
        if plan.touched:
            conn.executemany(f"UPDATE [{family.table}] SET seen_run_id = :run, origin = {_ORIGIN_SQL}, "
                             f"live_run_id = coalesce(live_run_id, :live) WHERE {family.key} = :key",
                             [dict(meta, key=k, live=live) for k in plan.touched])
        _write_quietly(conn, writer, plan)
        if topic:
            conn.executemany(f"INSERT OR IGNORE INTO [{family.topics}] ({family.key}, topic, first_run_id, "
                             f"live_run_id) VALUES (?, ?, ?, ?)", [(k, topic, run_id, live) for k in batch])
        if live is not None:
            seen_live(conn, family, list(batch), live)
        if writer.history:
            _record_history(conn, writer, new, updated, run_id, stated)
    return counts


@dataclass
class _Plan:
    """What a batch does to the store, record by record."""

    new: list[Prepared] = dataclass_field(default_factory=list)
    updated: list[tuple[Prepared, Stored]] = dataclass_field(default_factory=list)
    touched: list[Any] = dataclass_field(default_factory=list)  # seen again: stored copy kept
    refresh: list[Prepared] = dataclass_field(default_factory=list)  # their volatile columns to refresh
    quiet: list[Prepared] = dataclass_field(default_factory=list)  # unchanged values, a layered document to keep


def _plan(conn: sqlite3.Connection, writer: Writer, batch: dict[Any, Prepared], run_id: int | None,
          counts: Counts) -> _Plan:
    """Weigh each copy of the batch against the stored record, and count what it does."""
    stored = _stored(conn, writer, list(batch))
    plan = _Plan()
    for key, p in batch.items():
        old = stored.get(key)
        if old is None:
            plan.new.append(p)
            counts.received += 1
            counts.new += 1
            continue
        again = run_id is not None and old.seen_run_id == run_id
        counts.repeated += again
        counts.received += not again
        merged = p if old.digest == p.digest else combine(writer, p, None, old, conn)
        if merged is None:
            counts.skipped += not again
        elif merged.digest == old.digest:
            counts.unchanged += not again
            if merged is not p and writer.unhashed:
                plan.quiet.append(merged)  # the layered document keeps what the poorer copy added
        else:
            counts.updated += not again
            plan.updated.append((merged, old))
            continue
        plan.touched.append(key)
        fresh = _volatile(writer, p)
        if fresh != old.volatile and any(v is not None for v in fresh):
            plan.refresh.append(p)
    return plan


def _write_quietly(conn: sqlite3.Connection, writer: Writer, plan: _Plan) -> None:
    """Columns that change without the record changing: layered documents, citation counts."""
    family = writer.family
    if plan.quiet:
        sets = ", ".join(f"[{c}] = ?" for c in writer.unhashed)
        conn.executemany(f"UPDATE [{family.table}] SET {sets} WHERE {family.key} = ?",
                         [(*(p.row[writer.column(c)] for c in writer.unhashed), p.key) for p in plan.quiet])
    if plan.refresh:
        sets = ", ".join(f"[{c}] = coalesce(?, [{c}])" for c in writer.volatile)
        conn.executemany(f"UPDATE [{family.table}] SET {sets} WHERE {family.key} = ?",
                         [(*_volatile(writer, p), p.key) for p in plan.refresh])


def _volatile(writer: Writer, p: Prepared) -> tuple:
    return tuple(p.row[writer.column(c)] for c in writer.volatile)


def _incoming(writer: Writer, p: Prepared) -> Stored:
    """A copy of this batch, as a later copy of the same batch weighs it."""
    return Stored(p.digest, None, None, writer.recency(p) if writer.recency else (), writer.shape(p),
                  writer.says(p) if writer.says else (), _volatile(writer, p), ())


def _stored(conn: sqlite3.Connection, writer: Writer, keys: list[Any]) -> dict[Any, Stored]:
    """What the store holds of these records, as copies are weighed against it."""
    family = writer.family
    parts = ["record_hash, seen_run_id", "raw_block" if writer.raw else "NULL"]
    width = {"recency": 0, "says": 0}
    for name, sql in (("recency", writer.recency_sql), ("says", writer.says_sql)):
        if sql:
            width[name] = len(_split_sql(sql))
            parts.append(sql)
    parts.append(writer.shape_sql)
    tracked = writer.history.fields if writer.history else ()
    parts += [f"[{c}]" for c in (*writer.volatile, *tracked)]
    rows = stored_rows(conn, family.table, family.key, ", ".join(parts), keys)
    out = {}
    for key, row in rows.items():
        at = 3
        recency = tuple(row[at:at + width["recency"]])
        at += width["recency"]
        says = tuple(row[at:at + width["says"]])
        at += width["says"]
        shape = row[at] or 1
        at += 1
        volatile = tuple(row[at:at + len(writer.volatile)])
        at += len(writer.volatile)
        out[key] = Stored(row[0], row[1], row[2], recency, shape, says, volatile, tuple(row[at:]))
    return out


def _split_sql(sql: str) -> list[str]:
    """Top-level comma-separated expressions of a select list (commas inside parentheses kept)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(sql):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(sql[start:i])
            start = i + 1
    return out + [sql[start:]]


def combine(writer: Writer, p: Prepared, earlier: Prepared | None, old: Stored,
            conn: sqlite3.Connection | None = None) -> Prepared | None:
    """The copy that results from an incoming one and a stored one (``earlier``, when it is of
    the same batch; else read from ``conn`` when copies must be laid over each other): the
    incoming copy, a layered one, or None when the stored copy stands."""
    from .merge import Verdict, layered, verdict

    decided = verdict((writer.recency(p) if writer.recency else (), old.recency), (writer.shape(p), old.shape),
                      writer.full_shape, (writer.says(p) if writer.says else (), old.says), (p.digest, old.digest))
    if decided is Verdict.TAKE:
        return p
    if decided is Verdict.KEEP or writer.document is None or writer.rebuild is None:
        # A source that cannot lay copies over each other keeps the winner whole.
        return p if decided is Verdict.OVER_STORED else None
    if earlier is None:
        earlier = load(conn, writer, [p.key])[0] if conn is not None else None
        if earlier is None:
            return None
    at = writer.column(writer.document)
    mine, theirs = json.loads(p.row[at]), json.loads(earlier.row[at])
    document = layered(theirs, mine) if decided is Verdict.OVER_STORED else layered(mine, theirs)
    return prepare(writer, [writer.rebuild(document)])[0]


def seen_live(conn: sqlite3.Connection, family: Family, keys: Sequence[Any], run_id: int) -> None:
    """A live run received these records: in every topic that holds them and had only seen them
    in files or the bundled sample, they are news from this run on."""
    for i in range(0, len(keys), CHUNK):
        chunk = list(keys[i:i + CHUNK])
        conn.execute(f"UPDATE [{family.topics}] SET live_run_id = ? WHERE live_run_id IS NULL "
                     f"AND {family.key} IN ({','.join('?' * len(chunk))})", [run_id, *chunk])


def _stated(conn: sqlite3.Connection, writer: Writer,
            updated: list[tuple[Prepared, Stored]]) -> dict[Any, set[str]]:
    """The tracked fields each stored copy poorer than a whole one stated (read from its document)."""
    partial = [p.key for p, old in updated if old.shape < writer.full_shape]
    if not partial or writer.states is None or writer.document is None:
        return {}
    at = writer.column(writer.document)
    return {p.key: writer.states(json.loads(p.row[at])) for p in load(conn, writer, partial)}


def _record_history(conn: sqlite3.Connection, writer: Writer, new: list[Prepared],
                    updated: list[tuple[Prepared, Stored]], run_id: int | None,
                    stated: dict[Any, set[str]] | None = None) -> None:
    """The change rows of a saved batch (see :class:`History`). A value the stored copy did not
    state (a field a field-limited copy lacks) that a richer copy brings is no change."""
    history = writer.history
    assert history is not None
    dated = writer.column(history.dated_by)
    rows: list[tuple[Any, int | None, str, str | None, str | None, Any]] = []
    if history.first_sighting:
        first = writer.column(history.first_sighting)
        rows += [(p.key, run_id, "new", None, history_text(p.row[first]), p.row[dated]) for p in new]
    for p, stored in updated:
        derived = writer.derive(p) if writer.derive else ()
        said = (stated or {}).get(p.key)
        for field, old in zip(history.fields, stored.tracked, strict=True):
            value = derived[writer.derived.index(field)] if field in writer.derived else p.row[writer.column(field)]
            if said is not None and field not in said and field not in writer.derived:
                continue
            if history_text(old) != history_text(value):
                rows.append((p.key, run_id, field, history_text(old), history_text(value), p.row[dated]))
    conn.executemany(f"INSERT INTO [{history.table}] ({writer.family.key}, run_id, field, old_value, new_value, "
                     f"[{history.dated_by}]) VALUES (?, ?, ?, ?, ?, ?)", rows)


def history_text(value: Any) -> str | None:
    """A value as change-history text: booleans as 0/1, like SQLite stores them."""
    if value is None:
        return None
    return str(int(value)) if isinstance(value, bool) else str(value)


def _write(conn: sqlite3.Connection, writer: Writer, new: list[Prepared], updated: list[tuple[Prepared, Stored]],
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
            release_blocks(conn, [old.raw_block for _, old in updated if old.raw_block is not None])
    for name in family.children:
        rows = [row for p in written for row in p.children[name]]
        if rows:
            marks = ", ".join("?" * len(family.spec(name).columns))
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
                marks = ", ".join("?" * len(family.spec(name).columns))
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
