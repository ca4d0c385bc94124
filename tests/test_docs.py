"""The README is a contract: commands, options, schema and the set-up commands."""

import re
from pathlib import Path

import click

from litwatch.cli import cli
from litwatch.schema_docs import COLUMNS, markdown
from litwatch.store.schema import TABLES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_column_is_described():
    assert {t: list(spec.columns) for t, spec in TABLES.items()} == {t: list(c) for t, c in COLUMNS.items()}


def test_readme_schema_section_is_current():
    assert markdown() in README, "run: python -m litwatch.schema_docs, and paste into README.md"


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
