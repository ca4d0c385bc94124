"""One writer at a time: an advisory lock next to the database.

The lock is an ``flock`` on ``<database>.lock``, so the kernel releases it when its holder
dies, however it dies: a lock left by a killed process is never in the way. The file
also records who holds it, for the message a second run shows.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import sqlite3

from .errors import LitwatchError
from .store.db import now, transaction


class LockBusy(LitwatchError):
    """Another litwatch process is writing to the same database."""


class RunLock:
    """Hold the database's write lock for a ``with`` block; wait up to ``wait`` seconds for it."""

    def __init__(self, db_path: str | Path, wait: float = 0.0):
        self.path = Path(f"{db_path}.lock")
        self.wait = wait
        self._file = None

    def __enter__(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        deadline = time.monotonic() + self.wait
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
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {now()}\n")
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, *exc) -> None:
        if self._file:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    @staticmethod
    def _holder(handle) -> str:
        handle.seek(0)
        return handle.read().strip() or "unknown process"


def close_abandoned_runs(conn: sqlite3.Connection) -> int:
    """Mark runs left 'running' by a process that died (only call while holding the lock)."""
    with transaction(conn):
        cursor = conn.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = ?, "
            "error = coalesce(error, 'the process ended before the run finished') WHERE status = 'running'", [now()])
    return cursor.rowcount
