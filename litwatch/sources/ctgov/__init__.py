"""ClinicalTrials.gov API v2: client and study parser.

What the command line says of it before the source is loaded (``litwatch --help``).
"""

LABEL = "ClinicalTrials.gov"
FILES = "ClinicalTrials.gov JSON (website downloads, API pages, single studies)"
