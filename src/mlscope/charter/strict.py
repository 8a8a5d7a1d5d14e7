"""The base of every charter model: unknown keys are errors, values are frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StrictModel"]


class StrictModel(BaseModel):
    """A charter section: ``extra="forbid"`` (a typo is an error, with "did you mean").

    Numbers are accepted where text is expected (class names 0, 1, 2; a split named 2024):
    YAML reads them as numbers, and refusing them would only make users quote.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)
