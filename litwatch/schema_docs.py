"""The README's schema section, generated whole from a database the schema creates: every
table, view and full-text index it holds, with their columns as SQLite lists them and each
column's one line of documentation from its declaration
(``python -m litwatch.schema_docs README.md``; a test checks the README against a live database)."""

from __future__ import annotations

import sqlite3

from .catalog import schema
from .store.schema import Schema, columns_of, ensure_schema

START, END = "<!-- schema:start -->\n", "<!-- schema:end -->"


def live(whole: Schema | None = None) -> sqlite3.Connection:
    """An empty database in memory with every table, view and index of ``whole`` (the
    registered sources' schema)."""
    conn = sqlite3.connect(":memory:")
    ensure_schema(conn, whole or schema())
    return conn


def markdown(whole: Schema | None = None) -> str:
    """The README's schema section: every table and view with its columns (one line each), then
    the full-text indexes."""
    whole = whole or schema()
    conn = live(whole)
    lines = []
    for table, spec in whole.tables.items():
        pk = spec.pk if isinstance(spec.pk, str) else ", ".join(spec.pk)
        lines += [f"**`{table}`** ({spec.description} Primary key: {pk}.)", ""]
        for column in columns_of(conn, table):
            lines.append(f"- `{column}`: {spec.docs[column]}")
        lines.append("")
    for name, view in whole.views.items():
        lines += [f"**`{name}`** (view: {view.description})", "",
                  "Columns: " + ", ".join(f"`{c}`" for c in columns_of(conn, name)) + ".", ""]
    for table in whole.fts:
        indexed = ", ".join(f"`{c}`" for c in columns_of(conn, f"{table}_fts"))
        lines += [f"**`{table}_fts`** (full-text index, SQLite FTS5 with porter stemming, over {indexed} of "
                  f"`{table}`; kept current as records are written; Datasette's search box uses it)", ""]
    return "\n".join(lines)


def section(text: str) -> str:
    """The schema section of a README's text."""
    return text.split(START, 1)[1].split(END, 1)[0]


def update(path: str) -> None:
    """Rewrite the part of ``path`` between the schema markers with :func:`markdown`."""
    text = open(path, encoding="utf-8").read()
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + START + markdown() + END + tail)


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1:
        update(sys.argv[1])
    else:
        print(markdown(), end="")
