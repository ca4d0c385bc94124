"""A Datasette plugin for the tests: SQLite's ``date('now', ...)`` answers as if today were
``LITWATCH_TEST_TODAY``, so the canned queries and views that count from today (trials
completing in the next 12 months, unreported trials) return the same rows of recorded data
whenever the suite runs. Other dates and every modifier are SQLite's own ``date()``."""

import os
import sqlite3

from datasette import hookimpl


@hookimpl
def prepare_connection(conn):
    today = os.environ.get("LITWATCH_TEST_TODAY")
    if today:
        pin_today(conn, today)


def pin_today(conn: sqlite3.Connection, today: str) -> None:
    builtin = sqlite3.connect(":memory:", check_same_thread=False)

    def date(*args):
        args = [today if isinstance(a, str) and a.strip().lower() == "now" else a for a in args]
        return builtin.execute(f"SELECT date({', '.join('?' * len(args))})", args).fetchone()[0]

    conn.create_function("date", -1, date)
