"""The README's schema section, generated from the table declarations
(``python -m litwatch.schema_docs README.md``); a test checks that the README is current."""

from __future__ import annotations

from .store.schema import TABLES

# One line per column, declared beside each column's type in the table specs.
COLUMNS: dict[str, dict[str, str]] = {name: spec.docs for name, spec in TABLES.items()}


def markdown() -> str:
    """The README's schema section: every table and column, one line each."""
    lines = []
    for table, spec in TABLES.items():
        pk = spec.pk if isinstance(spec.pk, str) else ", ".join(spec.pk)
        lines.append(f"**`{table}`** ({spec.description} Primary key: {pk}.)")
        lines.append("")
        for column, doc in spec.docs.items():
            lines.append(f"- `{column}`: {doc}")
        lines.append("")
    lines.append("**`recruiting_trials`** (view): trials recruiting, not yet recruiting or enrolling by "
                 "invitation, with their countries, by expected primary completion.")
    lines.append("")
    lines.append("**`publications_by_year`** (view): publications per year and design, retracted left out.")
    lines.append("")
    lines.append("**`trial_publications`** (view): every paper-trial link with both titles (empty when a "
                 "side is not stored), design and evidence.")
    lines.append("")
    lines.append("**`unreported_trials`** (view): trials completed (status COMPLETED, primary "
                 "completion, else completion, over 12 months ago) with no results posted and no "
                 "linked paper reporting them (a RESULT reference, or a linked randomized, "
                 "non-randomized, single-arm, observational or case study that is not retracted): "
                 "`nct_id`, `brief_title`, `lead_sponsor`, `lead_sponsor_class`, `enrollment`, "
                 "`completed`, `url`.")
    lines.append("")
    lines.append("**`articles_fts`**, **`trials_fts`**: SQLite FTS5 indexes (porter stemming) over "
                 "`articles.title` and `abstract`, and over `trials.brief_title`, `official_title`, "
                 "`acronym`, `brief_summary`, `conditions` and `interventions`; kept current by "
                 "triggers; Datasette's search box uses them.")
    return "\n".join(lines) + "\n"


def update(path: str) -> None:
    """Rewrite the part of ``path`` between the schema markers with :func:`markdown`."""
    text = open(path, encoding="utf-8").read()
    start, end = "<!-- schema:start -->\n", "<!-- schema:end -->"
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + start + markdown() + end + tail)


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1:
        update(sys.argv[1])
    else:
        print(markdown(), end="")
