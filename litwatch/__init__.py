"""litwatch: a research-literature watcher (PubMed, ClinicalTrials.gov, Europe PMC...), stored in SQLite.

The public API: every command of the ``litwatch`` command line is one call here.

    import litwatch
    litwatch.update("data/litwatch.db", output="report.html")
    litwatch.fetch("data/litwatch.db", sources=["ctgov"])
    data = litwatch.build_report("data/litwatch.db")
    frames = litwatch.frames("data/litwatch.db")
"""

from typing import Any

from .version import __version__
from .config import Config, Topic, load_config  # noqa: E402
from .errors import LitwatchError  # noqa: E402

# Loaded on first use: they pull in the HTTP stack, the parsers and the report renderers.
_API = {"update", "fetch", "import_paths", "build_report", "render_report", "write_report", "export",
        "export_citations", "exportable", "feed", "list_runs", "migrate", "notify", "open_gaps", "reading",
        "reconcile", "reparse", "writing", "check"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        return getattr(api, name)
    if name == "open_db":  # the registered sources' schema: loaded with them
        from .catalog import open_db

        return open_db
    if name == "datasette_metadata":
        from .browse import datasette_metadata

        return datasette_metadata
    raise AttributeError(f"module 'litwatch' has no attribute {name!r}")


def frames(db: Any) -> dict[str, Any]:
    """The main tables and views of a litwatch database as pandas DataFrames; see
    :func:`litwatch.browse.frames`."""
    from .browse import frames as _frames

    return _frames(db)


__all__ = ["Config", "LitwatchError", "Topic", "__version__", "build_report", "check", "datasette_metadata", "export",
           "export_citations", "exportable", "feed", "fetch", "frames", "import_paths", "list_runs", "load_config",
           "migrate", "notify", "open_db", "open_gaps", "reading", "reconcile", "render_report", "reparse", "update",
           "write_report", "writing"]
