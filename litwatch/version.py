"""The one place litwatch's version is written (pyproject.toml reads it from here): asking
importlib.metadata instead costs a tenth of a second at every start of the command line."""

__version__ = "0.1.0"
