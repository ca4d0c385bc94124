"""A fourth source, built as a successor would add one: a folder (schema, client, source) and
one registry line, here made by the test that uses it (tests/test_fourth_source.py). It reads
Crossref's REST API (``GET /works?query=...``) and nothing outside this folder names it."""

LABEL = "Crossref"
