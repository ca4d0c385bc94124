"""The SQLite store: schema declarations, opening and migrating a database, and the one
write path every source uses."""

from .db import SCHEMA_VERSION, SchemaError, db_path, now, query, scalar, table_names, transaction, view_names

__all__ = ["SCHEMA_VERSION", "SchemaError", "db_path", "now", "query", "scalar", "table_names", "transaction",
           "view_names"]
