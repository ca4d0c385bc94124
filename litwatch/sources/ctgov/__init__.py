"""ClinicalTrials.gov API v2: client and study parser."""
