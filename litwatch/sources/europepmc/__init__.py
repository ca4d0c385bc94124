"""Europe PMC REST API: client and parser.

What the command line says of it before the source is loaded (``litwatch --help``).
"""

LABEL = "Europe PMC"
FILES = "Europe PMC search responses saved as JSON (a page, an array of pages, single results)"
