"""The README is a contract: commands, options, schema and the set-up commands."""

import re
from pathlib import Path

import click

from litwatch.catalog import open_db, schema
from litwatch.cli import cli
from litwatch.schema_docs import markdown, section

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _documented(text: str) -> dict[str, list[str]]:
    """Each table, view and index the README's schema section names, with the columns it lists."""
    out: dict[str, list[str]] = {}
    for block in section(text).split("\n\n**`")[0:]:
        name = re.match(r"\**`?([a-z_0-9]+)`", block)
        if not name:
            continue
        columns = re.findall(r"^- `([a-z_0-9]+)`:", block, re.M)
        listed = re.search(r"^Columns: (.+)\.$", block, re.M)
        indexed = re.search(r"over (.+?) of `", block)
        found = re.findall(r"`([a-z_0-9]+)`", (listed or indexed).group(1)) if listed or indexed else []
        out[name.group(1)] = columns or found
    return out


def test_readme_schema_section_is_the_live_database(tmp_path):
    """The README lists every table, view and full-text index a database litwatch creates holds,
    each with its columns in SQLite's order and each column's declared description, and nothing
    else: it is generated whole (python -m litwatch.schema_docs README.md)."""
    assert section(README) == markdown(), "run: python -m litwatch.schema_docs README.md"
    conn = open_db(tmp_path / "live.db")
    objects = {name: [r[1] for r in conn.execute(f"PRAGMA table_info([{name}])")]
               for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                                           "AND name NOT LIKE 'sqlite_%' AND name NOT GLOB '*_fts_*'")}
    assert _documented(README) == objects
    for table, spec in schema().tables.items():
        for column, doc in spec.docs.items():
            assert f"- `{column}`: {doc}" in section(README).split(f"**`{table}`**", 1)[1], (table, column)


def test_every_command_and_option_is_in_the_readme():
    for name, command in cli.commands.items():
        assert f"`litwatch {name}" in README, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert any(opt in README for opt in param.opts), f"{name} {param.opts}"
    for param in cli.params:
        if isinstance(param, click.Option) and param.name != "version":
            assert any(opt in README for opt in param.opts), param.opts


def test_two_setup_commands_and_ci_runs_the_test_one():
    section = README.split("## Set-up: two commands", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```\n(.+?)\n```", section)
    assert len(commands) == 2
    assert commands[0].endswith("litwatch update")
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
