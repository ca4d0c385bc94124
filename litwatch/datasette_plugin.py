"""The Datasette plugin ``litwatch serve`` runs with: a visitor reads the database, and can do
nothing more through it.

Datasette lets a visitor run any SELECT. SQLite's own functions include some that reach
past the data: ``fts3_tokenizer`` with one argument returns a tokenizer's address in memory
(a pointer leak) and with two replaces it with any address (memory corruption, a known route
to running code); ``load_extension`` loads a shared library. Every connection Datasette
opens gets an authorizer that refuses them (and those some SQLite builds add: files read and
written by ``readfile``, ``writefile``, ``edit``; raw pages and pointers), whatever the
case they are written in and wherever they appear in a query. SQLite checks the authorizer
when it prepares a statement, so a refused query never runs: Datasette answers 400 with
SQLite's "not authorized".

``python -m litwatch.datasette_plugin serve ...`` is Datasette's own command line with this
plugin registered (what ``litwatch serve`` runs); installed Datasette plugins load as usual.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from .store.guard import harden

try:
    from datasette import hookimpl
except ImportError:  # Datasette is an optional extra: harden() stays usable without it
    pass
else:
    @hookimpl
    def prepare_connection(conn: sqlite3.Connection, database: str, datasette: Any) -> None:
        """Datasette calls this for every connection it opens."""
        harden(conn)


def main() -> None:
    """Datasette's command line (``serve`` and the rest) with this plugin registered."""
    from datasette.cli import cli
    from datasette.plugins import pm

    import litwatch.datasette_plugin as plugin  # this module by its name, also when run with -m

    if not pm.is_registered(plugin):
        pm.register(plugin, name="litwatch")
    cli()


if __name__ == "__main__":
    main()
