"""One writer at a time: an advisory lock next to the database.

The lock is an ``flock`` on ``<database>.lock``, so the kernel releases it when its holder
dies, however it dies: a lock left by a killed process is never in the way. The file
also records who holds it, for the message a second run shows. Readers look at it too: a
run still 'running' while no one holds the lock was left by a process that died, and every
reader sees it as interrupted (:func:`abandoned_runs`).
"""

from __future__ import annotations

import fcntl
import os
import stat
import time
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, Iterable, Iterator

import sqlite3

from .errors import LitwatchError
from .redact import printable
from .store.db import now, transaction


class LockBusy(LitwatchError):
    """Another litwatch process is writing to the same database."""


# How long a writer retries a lock held by someone else before it says the database is busy
# (longer with --wait).
GRACE_SECONDS = 0.5


class RunLock:
    """Hold the database's write lock for a ``with`` block; wait up to ``wait`` seconds for it."""

    def __init__(self, db_path: str | Path, wait: float = 0.0):
        self.path = Path(f"{db_path}.lock")
        self.wait = wait
        self._file: IO[str] | None = None

    def __enter__(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:  # never through a symlink: truncating the lock file must not truncate another file
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as e:
            if os.path.islink(self.path):
                raise LitwatchError(f"{self.path} is a symbolic link; remove it (litwatch makes its own lock "
                                    f"file)") from None
            raise LitwatchError(f"cannot open the lock file {self.path}: {e.strerror or e}") from None
        if not _regular(fd):
            os.close(fd)
            raise LitwatchError(f"{self.path} is not a regular file; remove it")
        handle = os.fdopen(fd, "r+")
        # A reader asking whether a writer is alive (_no_writer) holds a shared lock for an
        # instant: a short grace, so that it never makes a writer give up.
        started = time.monotonic()
        deadline = started + max(self.wait, GRACE_SECONDS)
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self._holder(handle)
                    handle.close()
                    raise LockBusy(f"another litwatch run ({holder}) is writing to this database; "
                                   f"try again later or pass --wait SECONDS") from None
                time.sleep(0.02 if time.monotonic() < started + GRACE_SECONDS else 0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {now()}\n")
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._file:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    @staticmethod
    def _holder(handle: IO[str]) -> str:
        handle.seek(0)
        return printable(handle.read(_HOLDER_BYTES).strip()) or "unknown process"


# The lock file holds one short line ("pid 123 since ..."); more is never read.
_HOLDER_BYTES = 200


def _regular(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)


@contextmanager
def _no_writer(db_path: str | Path) -> Iterator[bool]:
    """Whether no litwatch process holds the database's write lock; while the block runs
    (it should be short: a query), none can start. False when the lock file cannot tell.

    Asked without taking the lock from anyone: a shared lock, tried without waiting; a
    missing lock file means no writer ever ran here. A writer starting meanwhile waits for it
    (see :data:`GRACE_SECONDS`)."""
    try:
        fd = os.open(f"{db_path}.lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        yield True
        return
    except OSError:
        yield False
        return
    try:
        free = _regular(fd)
        if free:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                free = False
        yield free
    finally:
        os.close(fd)  # lets the shared lock go


def abandoned_runs(conn: sqlite3.Connection, db_path: str | Path) -> list[int]:
    """The runs left 'running' by a process that died: those 'running' while no litwatch
    process holds the write lock (a writer's own runs are running); none when the lock file
    cannot tell. Costs one query on ``runs`` and, only when a run is 'running', a look at the
    lock."""
    if conn.execute("SELECT 1 FROM runs WHERE status = 'running' LIMIT 1").fetchone() is None:
        return []
    with _no_writer(db_path) as free:
        if not free:
            return []
        return [r[0] for r in conn.execute("SELECT id FROM runs WHERE status = 'running' ORDER BY id")]


ABANDONED = "the process ended before the run finished"


def close_abandoned_runs(conn: sqlite3.Connection, tables: Iterable[str]) -> int:
    """Mark runs left 'running' by a process that died (only call while holding the lock),
    with the counts of what they stored before they died (the records they saw in the record
    tables ``tables``: each source's main table)."""
    tables = list(tables)
    abandoned = [r[0] for r in conn.execute("SELECT id FROM runs WHERE status = 'running'")]
    with transaction(conn):
        for run_id in abandoned:
            received = new = 0
            for table in tables:
                seen, first = conn.execute(f"SELECT count(*), sum(first_run_id = ?) FROM [{table}] "
                                           f"WHERE seen_run_id = ?", [run_id, run_id]).fetchone()
                received, new = received + seen, new + (first or 0)
            conn.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?, received = ?, new = ?, "
                "error = coalesce(error, ?) WHERE id = ?", [now(), received, new, ABANDONED, run_id])
    return len(abandoned)
