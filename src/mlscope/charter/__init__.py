"""The charter: schema, loading with file/line errors, and validation."""

from mlscope.charter.schema import Charter

__all__ = ["Charter"]
