"""Lay a report out as Markdown or self-contained HTML (Jinja2 templates in templates/).

Every value that comes from a record is text, never markup, in both: the HTML templates
escape every value they print (autoescape), and the Markdown ones likewise, by default: a
value printed without a filter is escaped as :func:`md` does it (the environment's
``finalize``), so a title, an author, a journal, a quote or a date holding ``<script>`` or
``[link](javascript:...)`` shows as those characters, whichever field a template prints.
Only what :func:`md`, :func:`md_refs`, :func:`url` and :func:`code` return, and the
templates' own text, is written as it is.
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


def md(value: Any) -> Markup:
    """Text for one line of Markdown: whitespace collapsed, control characters dropped, the
    characters Markdown would read as markup escaped, ``<`` and ``>`` as entities."""
    return Markup(_md_text(value).strip())


def _md_text(value: Any) -> str:
    """:func:`md` without the trim: what a template prints unfiltered (its finalize), so that
    a piece such as ``" (est.)"`` keeps its space."""
    if value is None:
        return ""
    if isinstance(value, Markup):  # already Markdown: md(), url(), a macro's output
        return str(value)
    text = re.sub(r"\s+", " ", _CONTROL.sub(" ", str(value)))
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _finalize(value: Any) -> Markup:
    return value if isinstance(value, Markup) else Markup(_md_text(value))


def md_refs(value: Any) -> Markup:
    """:func:`md`, keeping reference marks ([1, 2]) as they are: Markdown shows them as text."""
    return Markup(re.sub(r"\\\[(\d+(?:, \d+)*)\\\]", r"[\1]", md(value)))


def url(value: Any) -> str:
    """A link target that cannot end the Markdown link or the HTML attribute early."""
    return quote(str(value or ""), safe=":/?#=&%+@,;~.-_!$'*")


def code(value: Any) -> Markup:
    """Text for a Markdown code span (a query): shown as it is, on one line; a backquote
    (which would end the span) and a pipe (which would end a table cell) replaced."""
    text = " ".join(_CONTROL.sub(" ", str(value or "")).split())
    return Markup(text.replace("`", "'").replace("|", "/"))


def count(n: int, one: str, many: str | None = None) -> str:
    """``count(2, "trial")`` -> "2 trials"; ``count(1, "analysis", "analyses")`` -> "1 analysis"."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def cite_links(text: str) -> Markup:
    """The summary's text with its reference marks ([1, 2]) linked to the list below it."""
    def link(m: re.Match) -> str:
        numbers = [f'<a href="#ref-{n}">{n}</a>' for n in m.group(1).split(", ")]
        return "[" + ", ".join(numbers) + "]"
    return Markup(_REFS.sub(link, str(escape(_CONTROL.sub(" ", text)))))


_OPTIONS: dict[str, Any] = dict(loader=jinja2.PackageLoader("litwatch.report", "templates"), trim_blocks=True,
                                lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
_ENV = jinja2.Environment(autoescape=True, **_OPTIONS)
_ENV.filters.update(md=md, md_refs=md_refs, url=url, cite_links=cite_links)
_ENV.globals.update(count=count)
# Markdown: autoescape on, so a macro's output is marked as written; every value printed
# passes through _finalize first, which escapes it for Markdown (HTML escaping, after it,
# leaves marked text alone).
_MD_ENV = jinja2.Environment(autoescape=True, finalize=_finalize, **_OPTIONS)
_MD_ENV.filters.update(md=md, md_refs=md_refs, url=lambda value: Markup(url(value)), code=code)
_MD_ENV.globals.update(count=count)


def markdown(report: dict[str, Any], charts: dict[str, str] | None = None, section: str = "all") -> str:
    """The Markdown brief (or one ``section`` of it); ``charts`` maps chart names to image
    paths to link."""
    name = "summary.md.j2" if section == "summary" else "report.md.j2"
    return _MD_ENV.get_template(name).render(r=report, charts=charts or {})


def html(report: dict[str, Any], svgs: dict[str, str], section: str = "all") -> str:
    """One self-contained HTML page (inline CSS and SVG charts, no external resource); with
    ``section="summary"``, the summary alone as an HTML fragment a web page can include."""
    name = "summary.html.j2" if section == "summary" else "report.html.j2"
    return _ENV.get_template(name).render(r=report, charts=svgs)
