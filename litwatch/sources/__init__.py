"""The sources litwatch reads, each one package behind one interface
(:class:`litwatch.sources.base.Source`), in the order they run and are reported.

Adding a source is a new package (its ``__init__`` naming it: ``LABEL``, ``FILES``; its
``source`` module defining ``SOURCE``; its client, parser and schema) and one line in
:data:`REGISTRY`; the store, the views, orchestration, the command line, the report, the
exports and the Datasette metadata iterate the registry. Sources load on first use, so
``litwatch --help`` stays fast: it reads only the packages' names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from .base import Source

# name -> package: its __init__ names the source, its .source module defines SOURCE
REGISTRY: dict[str, str] = {
    "pubmed": "litwatch.sources.pubmed",
    "ctgov": "litwatch.sources.ctgov",
    "europepmc": "litwatch.sources.europepmc",
}
NAMES: tuple[str, ...] = tuple(REGISTRY)  # the built-in sources (the CLI's --source choices)


def get(name: str) -> "Source":
    """The source called ``name``."""
    try:
        package = REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r} (known: {', '.join(REGISTRY)})") from None
    source: Source = importlib.import_module(f"{package}.source").SOURCE
    return source


def all_sources() -> list["Source"]:
    """Every source, in registry order."""
    return [get(name) for name in REGISTRY]


def label(name: str) -> str:
    """A source's name as a reader calls it ("PubMed"); the name itself for a source litwatch
    no longer has (an old run's)."""
    try:
        return get(name).label
    except KeyError:
        return name


def cards(key: str) -> list[str]:
    """What each source's package says of it (``LABEL``, ``FILES``), without loading the source."""
    said = (getattr(importlib.import_module(package), key, None) for package in REGISTRY.values())
    return [text for text in said if text]


def in_words(items: Sequence[str], conjunction: str = "and") -> str:
    """"A, B and C" (or "A, B or C"); "" for none."""
    return ", ".join(items[:-1]) + f" {conjunction} " + items[-1] if len(items) > 1 else "".join(items)
