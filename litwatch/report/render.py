"""Lay a report out as Markdown or self-contained HTML (Jinja2 templates in templates/).

Every value that comes from a record is text, never markup: the HTML templates escape it
(autoescape) and the Markdown ones pass it through :func:`md`, so a title holding ``<script>``
or ``[link](javascript:...)`` shows as those characters.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

SECTIONS = ("all", "summary")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")
_REFS = re.compile(r"\[(\d+(?:, \d+)*)\]")


def md(value: Any) -> str:
    """Text for one line of Markdown: whitespace collapsed, control characters dropped, the
    characters Markdown would read as markup escaped, ``<`` and ``>`` as entities."""
    if value is None:
        return ""
    text = " ".join(_CONTROL.sub(" ", str(value)).split())
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def md_refs(value: Any) -> str:
    """:func:`md`, keeping reference marks ([1, 2]) as they are: Markdown shows them as text."""
    return re.sub(r"\\\[(\d+(?:, \d+)*)\\\]", r"[\1]", md(value))


def url(value: Any) -> str:
    """A link target that cannot end the Markdown link or the HTML attribute early."""
    return quote(str(value or ""), safe=":/?#=&%+@,;~.-_!$'*")


def count(n: int, one: str, many: str | None = None) -> str:
    """``count(2, "trial")`` -> "2 trials"; ``count(1, "analysis", "analyses")`` -> "1 analysis"."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def cite_links(text: str) -> Markup:
    """The summary's text with its reference marks ([1, 2]) linked to the list below it."""
    def link(m: re.Match) -> str:
        numbers = [f'<a href="#ref-{n}">{n}</a>' for n in m.group(1).split(", ")]
        return "[" + ", ".join(numbers) + "]"
    return Markup(_REFS.sub(link, str(escape(_CONTROL.sub(" ", text)))))


_ENV = jinja2.Environment(loader=jinja2.PackageLoader("litwatch.report", "templates"),
                          autoescape=jinja2.select_autoescape(["html", "html.j2"], default_for_string=True),
                          trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                          undefined=jinja2.StrictUndefined)
_ENV.filters.update(md=md, md_refs=md_refs, url=url, cite_links=cite_links)
_ENV.globals.update(count=count)


def markdown(report: dict[str, Any], charts: dict[str, str] | None = None, section: str = "all") -> str:
    """The Markdown brief (or one ``section`` of it); ``charts`` maps chart names to image
    paths to link."""
    name = "summary.md.j2" if section == "summary" else "report.md.j2"
    return _ENV.get_template(name).render(r=report, charts=charts or {})


def html(report: dict[str, Any], svgs: dict[str, str], section: str = "all") -> str:
    """One self-contained HTML page (inline CSS and SVG charts, no external resource); with
    ``section="summary"``, the summary alone as an HTML fragment a web page can include."""
    name = "summary.html.j2" if section == "summary" else "report.html.j2"
    return _ENV.get_template(name).render(r=report, charts=svgs)
