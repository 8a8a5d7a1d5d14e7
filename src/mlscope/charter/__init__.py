"""The charter: schema, loading with file/line errors, and validation."""

from mlscope.charter.load import (
    ValidationReport,
    charter_to_dict,
    load_charter,
    resolve_path,
    validate_charter,
)
from mlscope.charter.schema import Charter

__all__ = [
    "Charter",
    "ValidationReport",
    "charter_to_dict",
    "load_charter",
    "resolve_path",
    "validate_charter",
]
