"""The "ongoing research" brief: figures and lists built from the store, laid out as
Markdown, HTML or JSON."""

from .build import build_report, record_report, to_json

__all__ = ["build_report", "record_report", "to_json"]
