"""The sources litwatch reads, each one package behind one interface
(:class:`litwatch.sources.base.Source`), in the order they run and are reported.

Adding a source is a new package here (client, parser, schema, source) and one line in
:data:`REGISTRY`; orchestration, the command line, the report and the Datasette metadata
iterate the registry. Sources load on first use, so ``litwatch --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Source

# name -> module defining SOURCE
REGISTRY: dict[str, str] = {
    "pubmed": "litwatch.sources.pubmed.source",
    "ctgov": "litwatch.sources.ctgov.source",
    "europepmc": "litwatch.sources.europepmc.source",
}
NAMES: tuple[str, ...] = tuple(REGISTRY)


def get(name: str) -> "Source":
    """The source called ``name``."""
    try:
        module = REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r} (known: {', '.join(NAMES)})") from None
    source: Source = importlib.import_module(module).SOURCE
    return source


def all_sources() -> list["Source"]:
    """Every source, in registry order."""
    return [get(name) for name in NAMES]
