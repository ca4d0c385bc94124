"""The sources litwatch reads, each one package behind one interface."""
