"""Rebuild the bundled sample from the project's shared real data (run from the repo root):

    python data/make_sample.py ../shared/data

PubMed: every <PubmedArticle> of the update-file subset that mentions ketamine or PTSD
(the PROVENANCE.md definition), copied as is. ClinicalTrials.gov: every psychiatric study
of the UserZetsu/dtx-analysis download (a condition, or a MeSH term or ancestor derived
from one, under Mental Disorders or naming a psychiatric condition), copied as is.
"""

import gzip
import json
import re
import sys
from pathlib import Path

from lxml import etree

KETAMINE_OR_PTSD = re.compile(rb"ketamine|PTSD|posttraumatic stress|post-traumatic stress|"
                              rb"Stress Disorders, Post-Traumatic", re.IGNORECASE)
PSYCHIATRIC = re.compile(r"mental disorders|ptsd|post-?traumatic|depress|anxiety|suicid|substance|alcohol|"
                         r"opioid|schizo|bipolar|psychos|insomnia|stress disorder|addict|smoking|eating disorder",
                         re.IGNORECASE)


def pubmed(shared: Path, out: Path) -> int:
    records = []
    source = shared / "pubmed_baseline/pubmed21n1298_subset_ketamine_ptsd_ctgov.xml.gz"
    for _, elem in etree.iterparse(gzip.open(source), tag="PubmedArticle"):
        xml = etree.tostring(elem)
        if KETAMINE_OR_PTSD.search(xml):
            records.append(xml)
    body = b'<?xml version="1.0" encoding="utf-8"?>\n<PubmedArticleSet>\n' + b"\n".join(records) + b"\n</PubmedArticleSet>\n"
    with gzip.GzipFile(out, "wb", mtime=0) as f:
        f.write(body)
    return len(records)


def ctgov(shared: Path, out: Path) -> int:
    studies = json.loads((shared / "ctgov/website_download_json/UserZetsu__dtx-analysis__data__ctg-studies.json").read_text())
    keep = []
    for study in studies:
        browse = study.get("derivedSection", {}).get("conditionBrowseModule", {})
        words = study["protocolSection"].get("conditionsModule", {}).get("conditions", []) + \
            [m["term"] for m in browse.get("meshes", []) + browse.get("ancestors", [])]
        if any(PSYCHIATRIC.search(w) for w in words):
            keep.append(study)
    out.write_text(json.dumps(keep, ensure_ascii=False, indent=1), encoding="utf-8")
    return len(keep)


if __name__ == "__main__":
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    here = Path(__file__).parent / "sample"
    here.mkdir(exist_ok=True)
    print("pubmed records:", pubmed(shared, here / "pubmed_ketamine_ptsd.xml.gz"))
    print("ctgov studies:", ctgov(shared, here / "ctgov_psychiatric_trials.json"))
