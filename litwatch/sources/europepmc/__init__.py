"""Europe PMC REST API: client and parser."""
