"""Lay a report out as Markdown or self-contained HTML (Jinja2 templates in templates/)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import jinja2

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("litwatch.report", "templates"), autoescape=jinja2.select_autoescape(["html"]),
                          trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                          undefined=jinja2.StrictUndefined)
_ENV.filters["status"] = lambda s: (s or "unknown").replace("_", " ").capitalize()
_ENV.filters["cell"] = lambda s: "" if s is None else str(s).replace("|", "\\|").replace("\n", " ")


def _context(report: dict[str, Any]) -> dict[str, Any]:
    year_ago = (date.fromisoformat(report["as_of"][:10]) - timedelta(days=365)).isoformat()
    return {"r": report, "year_ago": year_ago}


def markdown(report: dict[str, Any], charts: dict[str, str] | None = None) -> str:
    """The Markdown brief; ``charts`` maps chart names to image paths to link."""
    return _ENV.get_template("report.md.j2").render(charts=charts or {}, **_context(report))


def html(report: dict[str, Any], svgs: dict[str, str]) -> str:
    """One self-contained HTML page: inline CSS and inline SVG charts, no external resource."""
    return _ENV.get_template("report.html.j2").render(charts=svgs, **_context(report))
