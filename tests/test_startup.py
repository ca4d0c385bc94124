"""The command line starts fast: what it loads before a command needs it."""


def test_the_command_line_starts_without_its_heavy_dependencies():
    """`litwatch --help` (and every command until it needs them) loads neither pandas,
    matplotlib, Datasette, lxml nor the HTTP stack: the command line starts in a tenth of a
    second, not one. Checked in a fresh interpreter."""
    import subprocess
    import sys

    heavy = ["pandas", "matplotlib", "datasette", "sqlite_utils", "lxml", "requests", "jinja2", "importlib.metadata"]
    code = ("import sys; from click.testing import CliRunner; from litwatch.cli import cli; "
            "result = CliRunner().invoke(cli, ['--help']); assert result.exit_code == 0, result.output; "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
