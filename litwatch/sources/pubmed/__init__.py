"""PubMed (NCBI E-utilities): client and parsers."""
