"""PubMed (NCBI E-utilities): client and parsers.

What the command line says of it before the source is loaded (``litwatch --help``).
"""

LABEL = "PubMed"
FILES = "PubMed files (efetch XML, baseline/update files .xml/.xml.gz, MEDLINE text exports .nbib/.txt)"
