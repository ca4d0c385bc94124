"""Charts of a report, drawn with matplotlib (no hand-drawn SVG).

Each chart is rendered to SVG text (inlined in the HTML report) or written as PNG/SVG
files (linked from the Markdown report). Output is deterministic: a fixed SVG hash salt,
no creation date in the metadata, charts drawn from the report's sorted data only.
"""

from __future__ import annotations

import io
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from ..designs import DESIGNS
from ..files import atomic_write

CHARTS = {
    "publications_by_year": "Publications per year, by study design",
    "trials_by_status_and_phase": "Trials by status and by phase",
    "expected_completions": "Trials in progress: expected primary completion, by year",
}
PALETTE = ["#1b6ca8", "#e07b39", "#3c9d5d", "#c23b3b", "#7d5ba6", "#8c6d46", "#d16fb0", "#6f6f6f",
           "#b5a531", "#2fb3c1", "#9ab8d6", "#444444"]


def _pyplot() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "litwatch", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.fonttype": "path"})
    return plt


def _integers(ax: Any, axis: str = "y") -> None:
    from matplotlib.ticker import MaxNLocator

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_locator(MaxNLocator(integer=True))


def _publications(report: dict[str, Any], plt: ModuleType) -> Any:
    table = report["publications_by_year_and_design"]
    years = list(table)
    if len(years) < 2:  # one bar says no more than the table beside it
        return None
    fig, ax = plt.subplots(figsize=(7, 3.4))
    _integers(ax)
    bottom = [0] * len(years)
    for design in (d for d in DESIGNS if any(row.get(d) for row in table.values())):
        values = [table[y].get(design, 0) for y in years]
        ax.bar(years, values, bottom=bottom, label=design, color=PALETTE[DESIGNS.index(design) % len(PALETTE)])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("published papers")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    return fig


def _trials(report: dict[str, Any], plt: ModuleType) -> Any:
    if not report["trials_by_status"]:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3.2))
    for ax, key, title in ((left, "trials_by_status", "status"), (right, "trials_by_phase", "phase")):
        data = report[key]
        labels = list(data)
        ax.barh(labels, list(data.values()), color=PALETTE[0 if key == "trials_by_status" else 1])
        ax.invert_yaxis()
        ax.set_title(f"by {title}")
        _integers(ax, "x")
    fig.tight_layout()
    return fig


def _completions(report: dict[str, Any], plt: ModuleType) -> Any:
    data = report["expected_completions"]
    if len(data) < 3:  # a year or two: the sentence above the table says it
        return None
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ax.bar(list(data), list(data.values()), color=PALETTE[2])
    ax.set_ylabel("trials")
    _integers(ax)
    return fig


DRAW: dict[str, Callable] = {"publications_by_year": _publications, "trials_by_status_and_phase": _trials,
                             "expected_completions": _completions}


def svg_charts(report: dict[str, Any]) -> dict[str, str]:
    """Every chart that has something to show, as inline SVG text."""
    plt = _pyplot()
    out = {}
    for name, draw in DRAW.items():
        fig = draw(report, plt)
        if fig is None:
            continue
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
        plt.close(fig)
        text = buffer.getvalue()
        out[name] = text[text.index("<svg"):]
    return out


def write_charts(report: dict[str, Any], directory: str | Path, fmt: str = "png") -> dict[str, str]:
    """Write every chart that has something to show as ``<name>.<fmt>`` (png or svg) into
    ``directory``; return the paths."""
    plt = _pyplot()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, draw in DRAW.items():
        fig = draw(report, plt)
        if fig is None:
            continue
        path = directory / f"{name}.{fmt}"
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, bbox_inches="tight", dpi=120, metadata=metadata)
        plt.close(fig)
        atomic_write(path, buffer.getvalue())
        out[name] = str(path)
    return out
