"""What every source provides, and nothing more: litwatch's orchestration, CLI, report and
browse layers know sources only through this interface and the registry in
:mod:`litwatch.sources`.

A source knows its name and label, the query a topic asks it (or that the topic has none),
how to search a date window and fetch the matching records in batches, how to fetch records
by ID, which tables it writes and how (its :class:`~litwatch.store.writes.Writer`), which of
the store's links point at records it should have, which files it can read, and where to
probe whether its service is reachable.
"""

from __future__ import annotations

import logging
import sqlite3
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date
from typing import IO, TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Iterator

from ..errors import BadRecord, IncompleteFetch, UsageError
from ..redact import printable
from ..settings import Option, SourceSettings, Topic
from ..store.spec import Family, TableSpec, View
from ..store.db import query
from ..store.writes import Counts, Prepared, Record, Writer, delete, load, save


if TYPE_CHECKING:
    from ..http import Deadline, HttpClient
    from ..paging import PageWalk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Skipped:
    """A record read but not stored: ``where`` names it as read (its position, the ID it
    gave), ``reason`` says why (malformed: see :mod:`litwatch.sources.checks`)."""

    where: str
    reason: str

    def __str__(self) -> str:
        return printable(f"{self.where}: {self.reason}")


def parse_each(parse: Callable[[Any], Record], items: Iterable[Any], what: str,
               start: int = 1) -> Iterator[Record | Skipped]:
    """``parse`` each item in turn; a malformed one (:class:`BadRecord`) becomes a
    :class:`Skipped` named ``"{what} {position}"`` (counted from ``start``), and the items
    after it are still parsed."""
    for position, item in enumerate(items, start):
        try:
            yield parse(item)
        except BadRecord as e:
            yield Skipped(f"{what} {position}", str(e))


@dataclass
class Batch:
    """Records in arrival order, then keys deleted after them (PubMed's DeleteCitation)."""

    records: list[Record | Prepared] = field(default_factory=list)
    deletes: list[Any] = field(default_factory=list)
    # Records read but not stored (malformed ones, PubMed books), each named in a warning:
    # counted as received and skipped, so a run that skips one still adds up.
    skipped: int = 0
    as_of: str | None = None  # the date the deletions took effect at the source, when known

    @classmethod
    def of(cls, items: Iterable[Record | Prepared | Skipped]) -> "Batch":
        """A batch of parsed records; the :class:`Skipped` among them are counted and named."""
        batch = cls()
        for item in items:
            if isinstance(item, Skipped):
                batch.skip(item)
            else:
                batch.records.append(item)
        return batch

    def skip(self, record: Skipped) -> None:
        """Count a record that is not stored, and say which in one warning line."""
        self.skipped += 1
        log.warning("skipped %s", record)


def in_keys(column: str, keys: list[Any] | None, size: int = 900) -> Iterator[tuple[str, list[Any]]]:
    """SQL conditions ``AND column IN (...)`` with their parameters, a chunk of keys at a time;
    one empty condition for all rows when ``keys`` is None."""
    if keys is None:
        yield "", []
        return
    for i in range(0, len(keys), size):
        chunk = list(keys[i:i + size])
        yield f" AND {column} IN ({','.join('?' * len(chunk))})", chunk


def cited_author(last: str | None, first: str | None, collective: str | None) -> str | dict[str, str]:
    """An author as a citation names one: "Last, First", or a group's name kept whole
    (``{"collective": name}``: "SAGE Investigators, on behalf of SCCM Discovery" is one author,
    not a person named "on behalf of SCCM Discovery SAGE Investigators")."""
    if collective:
        return {"collective": collective}
    return ", ".join(filter(None, [last, first]))


def grouped(conn: sqlite3.Connection, sql: str, column: str, keys: list[Any]) -> dict[Any, list[Any]]:
    """The second column of ``sql`` (whose ``{where}`` is where :func:`in_keys` goes) grouped
    by its first, for the records ``keys``."""
    out: dict[Any, list[Any]] = {}
    for where, params in in_keys(column, keys):
        for key, value in conn.execute(sql.format(where=where), params):
            out.setdefault(key, []).append(value)
    return out


@dataclass
class Search:
    """A search of one topic's query over a window: what the service says it holds, what was
    asked (for the run log), and the batches of records as they are fetched. A source may
    revise ``expected`` and ``params`` while the batches run (a later listing of the search,
    records fetched by ID to complete it)."""

    expected: int | None
    params: dict[str, Any]
    batches: Iterator[Batch]


@dataclass
class Listing:
    """A search's full list of record keys, asked for alone (cheap ID-only requests), and how
    many records the service said the search holds."""

    keys: set[Any]
    expected: int | None

    @classmethod
    def checked(cls, label: str, keys: list[Any], expected: int | None) -> "Listing":
        """The listing of IDs a service answered in one go (an esearch ID list):
        :class:`IncompleteFetch` when an ID is repeated (it stands in for another) or the IDs do
        not add up to the count it gave."""
        distinct = set(keys)
        if len(distinct) != len(keys) or expected != len(distinct):
            raise IncompleteFetch(f"{label}'s ID listing does not add up ({len(distinct)} distinct IDs of "
                                  f"{expected} counted, {len(keys) - len(distinct)} repeats); nothing is flagged, "
                                  f"try again later")
        return cls(distinct, expected)

    @classmethod
    def of(cls, walk: "PageWalk") -> "Listing":
        """The listing a walk over ID-only pages made; :class:`IncompleteFetch` unless it
        :meth:`~litwatch.paging.PageWalk.adds_up` (a listing proves nothing otherwise)."""
        if not walk.adds_up():
            raise IncompleteFetch(f"{walk.label}'s ID listing does not add up ({walk.progress()}, {walk.repeats} "
                                  f"repeats); nothing is flagged, try again later")
        return cls(set(walk.keys), walk.expected)


@dataclass(frozen=True)
class PaperArm:
    """How a source's records are papers: its arm of the ``papers`` view (and so of
    ``paper_topics``, the new-paper events, the brief, the exports and ``frames()``).

    ``columns`` maps each column of the papers view (:data:`litwatch.catalog.PAPER_COLUMNS`)
    the source can fill to an SQL expression over its main table, named ``alias``; the ones
    it leaves out are empty. A record with a PubMed ID is the paper ``PMID:<pmid>`` whichever
    source holds it (``pmid`` names the column holding it, if any); one without is
    ``own_id`` (SQL; by default its key as text). Of the copies of one paper, the source
    registered first wins (PubMed before Europe PMC), and a source's own copies give way to the
    one with the smallest key. PMIDs a source knows were deleted (``deleted``: SQL selecting
    them) are no paper, whichever source still holds them."""

    alias: str
    columns: dict[str, str]
    pmid: str | None = None
    own_id: str | None = None
    deleted: str | None = None
    # How a reader cites the record when it has no PMID: "Europe PMC: {key}".
    cite_as: str = "{key}"


class Source(ABC):
    """One service litwatch reads, behind one interface."""

    name: ClassVar[str]  # registry key, CLI --source value, runs.source
    label: ClassVar[str]  # what a reader calls it: "PubMed"
    service: ClassVar[str]  # how it is reached: "NCBI E-utilities"
    unit: ClassVar[str]  # what it serves: "records", "studies"
    holds: ClassVar[str] = "papers"  # what its records are to a reader: "papers" or "trials"
    family: ClassVar[Family]
    tables: ClassVar[dict[str, TableSpec]]
    writer: ClassVar[Writer]
    default_url: ClassVar[str]
    url_key: ClassVar[str]  # [services] key of the base URL in litwatch.toml
    url_env: ClassVar[str]  # environment variable overriding the base URL
    # Raised when the parser reads more (or reads better) from the same payloads: records
    # stored by an older parser are then re-read by `litwatch reparse`.
    parser_version: ClassVar[int] = 1
    # A topic's [topics.<name>] table: its keys ({"query"}: one query string) and a comment
    # for the configuration template.
    query_keys: ClassVar[frozenset[str]] = frozenset({"query"})
    query_help: ClassVar[str] = ""
    # The built-in topic's query in this source's terms (a string, or a mapping of query_keys);
    # None: the built-in topic does not use this source.
    default_query: ClassVar[Any] = None
    # Topic keys of an earlier litwatch, still read: old key -> query key ({"pubmed_query": "query"}).
    old_topic_keys: ClassVar[dict[str, str]] = {}
    # Its own settings, under [sources.<name>] in litwatch.toml (e.g. PubMed's NCBI identity).
    options: ClassVar[tuple[Option, ...]] = ()
    # Datasette options (facets, sort, label column) of the tables it writes.
    table_options: ClassVar[dict[str, dict[str, Any]]] = {}
    # Its part of what is cross-source: its records as papers (None: they are not papers),
    # the events of its records (SELECTs yielding the events view's columns, see
    # litwatch.catalog.EVENT_COLUMNS) and views of its own (name -> SELECT).
    papers: ClassVar[PaperArm | None] = None
    # Its tables a notebook reads first (litwatch.frames()); by default its main and topic tables.
    main_tables: ClassVar[tuple[str, ...]] = ()
    # The terms its data comes under, and where they are written (Datasette shows them).
    terms: ClassVar[tuple[str, str] | None] = None
    events_sql: ClassVar[tuple[str, ...]] = ()
    views: ClassVar[dict[str, View]] = {}
    # Full text the topic concepts are looked for in: SQL yielding (key, text) per record,
    # ending in a WHERE clause that conditions on ``relevance_key`` may extend.
    relevance_text_sql: ClassVar[str] = ""
    relevance_key: ClassVar[str] = ""

    # ---------------------------------------------------------------- queries --

    def query(self, topic: Topic) -> Any | None:
        """The topic's query for this source, or None when the topic does not use it."""
        return topic.queries.get(self.name) or None

    def query_string(self, topic: Topic) -> str:
        """The topic's query for a source asked one query string (``query_keys`` {"query"}).

        :raises UsageError: the topic has no query for this source.
        """
        query = self.query(topic)
        if not isinstance(query, str):
            raise UsageError(f"topic {topic.name!r} has no {self.label} query")
        return query

    def search_url(self, query: Any) -> str | None:
        """The page of the service's own site showing the results of ``query`` (a feed's link)."""
        return None

    def query_text(self, topic: Topic) -> str:
        """The query as one line, for the run log and the report."""
        query = self.query(topic)
        return query if isinstance(query, str) else " ".join(f"{k}={v}" for k, v in (query or {}).items() if v)

    # ---------------------------------------------------------------- network --

    @abstractmethod
    def client(self, settings: SourceSettings, http: "HttpClient | None" = None,
               budget: "Deadline | None" = None) -> Any:
        """A client for this source's service (at ``settings.url``), paced as the service asks;
        its requests stop at ``budget`` (a run's time budget), when given."""

    def advice(self, settings: SourceSettings) -> str | None:
        """What the settings lack that the service asks for, in one line saying how to set it
        (warned once per fetch), or None."""
        return None

    @abstractmethod
    def probe_url(self, settings: SourceSettings) -> str:
        """A cheap URL that answers when the service is reachable."""

    @abstractmethod
    def search(self, client: Any, topic: Topic, since: date | None) -> Search:
        """Search the topic's query (records added or revised since ``since``, or all)."""

    @abstractmethod
    def fetch_ids(self, client: Any, ids: list[Any]) -> Iterator[Batch]:
        """Fetch records by ID, in batched requests."""

    def listing(self, client: Any, topic: Topic) -> Listing | None:
        """Every key the topic's search holds now, listed alone (for ``litwatch reconcile``);
        None when the service cannot list them.

        :raises IncompleteFetch: the listing does not add up to the count the service gave.
        """
        return None

    def record_ids(self, conn: sqlite3.Connection, keys: list[Any]) -> dict[Any, tuple[str, str | None, str | None]]:
        """How events name the stored records ``keys``: (record ID, title, URL) by key."""
        return {}

    # ------------------------------------------------------------------ store --

    def save(self, conn: sqlite3.Connection, batch: Batch, *, run_id: int | None, topic: str | None,
             origin: str) -> Counts:
        """Store a batch: its records, then its deletions."""
        counts = save(conn, self.writer, batch.records, run_id=run_id, topic=topic, origin=origin)
        counts.deleted += delete(conn, self.family, batch.deletes)
        counts.received += batch.skipped
        counts.skipped += batch.skipped
        return counts

    def missing_links(self, conn: sqlite3.Connection) -> list[Any]:
        """IDs of this source's records that stored links point at but the store lacks."""
        return []

    # --------------------------------------------------------------- evidence --

    def classify(self, conn: sqlite3.Connection) -> int:
        """Recompute the derived columns (design, retraction...) of every record whose stored
        ones were not derived from its current content (after a reparse or an upgrade); the
        writer derives them as it stores each record otherwise."""
        writer = self.writer
        if writer.derive is None:
            return 0
        table, key = self.family.table, self.family.key
        stale = [r[0] for r in conn.execute(f"SELECT {key} FROM [{table}] WHERE derived_hash IS NOT record_hash")]
        sets = ", ".join(f"[{c}] = ?" for c in writer.derived)
        for i in range(0, len(stale), 500):
            records = load(conn, writer, stale[i:i + 500])
            conn.executemany(f"UPDATE [{table}] SET {sets}, derived_hash = record_hash WHERE {key} = ?",
                             [writer.derive(p) + (p.key,) for p in records])
        return len(stale)

    def deleted_since(self, conn: sqlite3.Connection, run_id: int) -> list[Any]:
        """Keys of records the source deleted in runs after ``run_id`` (their links go)."""
        return []

    def links(self, conn: sqlite3.Connection, keys: list[Any] | None = None) -> None:
        """Write the paper-trial links this source's records state into ``paper_trial_links``,
        replacing the ones it wrote before: for the records ``keys`` (they changed), or for all
        of them (``None``)."""

    def citation(self, conn: sqlite3.Connection, key: Any) -> dict[str, Any]:
        """What a reference manager needs to cite the record ``key`` (a paper), as
        :mod:`litwatch.citations` takes it: by default its row of the papers view with its
        authors; a source with richer records (full names, MeSH, ISSN) gives more."""
        row = query(conn, "SELECT * FROM papers WHERE source = ? AND record_key = ?", [self.name, str(key)])[0]
        return {**row, "kind": "preprint" if row["preprint"] else "journal-article", "pub_date": row["published"],
                "posted_date": row["published"], "authors": self.authors(conn, [key]).get(key, [])}

    def result_note(self, result: Any) -> str:
        """What the command line adds to a fetch's result line to explain its counts (the line
        is "pubmed ketamine-ptsd: 304 of 304 records fetched (...){note} [full, run 3]")."""
        return ""

    def key_of(self, text: str) -> Any:
        """A record's key from its text (as the papers view's record_key holds it)."""
        return self.tables[self.family.table].types[self.family.key](text)

    def authors(self, conn: sqlite3.Connection, keys: list[Any]) -> dict[Any, list[str]]:
        """The authors of the records ``keys`` in byline order, as a reader names them
        ("Feder A"), by key (for the brief and the exports of its papers)."""
        return {}

    def versions(self, conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
        """(paper_id, version_id, how): the stored papers whose earlier versions (preprints) this
        source's records are or name (for ``paper_versions``)."""
        return []

    def reparse(self, conn: sqlite3.Connection) -> Iterator[list[Prepared]]:
        """The stored records parsed again from their raw copies, in batches (for
        ``litwatch reparse``: a parser fix reaches old data without the network)."""
        return iter(())

    # ------------------------------------------------------------------ files --

    def reads(self, fmt: str, head: bytes) -> bool:
        """Whether a file of this (sniffed) format, starting with ``head``, holds this source's records."""
        return False

    def read(self, fmt: str, stream: IO[bytes], name: str) -> Iterator[Batch]:
        """Batches of records read from a file this source :meth:`reads`."""
        raise NotImplementedError
