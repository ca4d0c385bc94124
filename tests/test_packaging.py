"""litwatch as `pip install litwatch` gives it: a wheel with the bundled sample, whose
`litwatch update` works offline from any folder."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # builds a wheel (pip, setuptools) and runs it


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    if built.returncode != 0 and "Could not find a version" in built.stderr + built.stdout:
        pytest.skip("the build backend cannot be installed here (no package registry)")
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("litwatch-*.whl")
    return path


def test_the_wheel_carries_the_sample_templates_and_type_marker(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"litwatch/sample/pubmed_ketamine_ptsd.xml.gz", "litwatch/sample/ctgov_ptsd_trials.json",
            "litwatch/sample/PROVENANCE.md", "litwatch/py.typed",
            "litwatch/report/templates/report.html.j2"} <= names
    assert not any(n.startswith(("tests/", "data/", "scripts/")) for n in names)


def test_an_installed_litwatch_updates_offline_from_its_bundled_sample(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)  # what pip would put in site-packages
    work = tmp_path / "elsewhere"
    work.mkdir()
    refused = "http://127.0.0.1:9"  # nothing listens: offline, at once
    env = dict(os.environ, PYTHONPATH=str(site), LITWATCH_EUTILS_URL=refused, LITWATCH_CTGOV_URL=refused,
               LITWATCH_EUROPEPMC_URL=refused)
    where = subprocess.run([sys.executable, "-c", "import litwatch; print(litwatch.__file__)"], env=env, cwd=work,
                           capture_output=True, text=True)
    assert where.stdout.startswith(str(site))  # the wheel's copy, not the source tree
    update = subprocess.run([sys.executable, "-m", "litwatch", "update"], env=env, cwd=work, capture_output=True,
                            text=True, timeout=120)
    assert update.returncode == 0, update.stderr
    assert "importing the bundled real sample" in update.stderr + update.stdout
    assert (work / "data" / "report.html").read_text().count("Philipp-Muller AE") >= 1
