"""The charter's ``profile:`` section: the artifact of each model, for ``mlscope profile``.

::

    profile:
      artifacts:                          # model name -> its saved model, beside the charter
        gbdt: data/models/gbdt.joblib     # scikit-learn / joblib pickle
        gbdt_onnx: data/models/gbdt.onnx  # ONNX (onnxruntime)
        rule: rules:score                 # or a Python function `module:function`

Paths are relative to the charter and must lie inside the project, like every path a
charter names (:mod:`mlscope.paths`). A pickle runs code when it is loaded: only the
artifacts named here (or with ``--artifact`` on the command line) are ever loaded. See
docs/profiling.md.
"""

from __future__ import annotations

from pydantic import field_validator

from mlscope.charter.strict import StrictModel

__all__ = ["ProfileSpec"]


class ProfileSpec(StrictModel):
    """``artifacts``: model name → a file path (relative to the charter) or
    ``module:function``."""

    artifacts: dict[str, str]

    @field_validator("artifacts")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("`profile.artifacts` names at least one model's artifact; "
                             "write e.g. `artifacts: {gbdt: data/models/gbdt.joblib}`")
        for name, path in value.items():
            if not path.strip():
                raise ValueError(f"`profile.artifacts.{name}` is empty; give the model's "
                                 "file, e.g. `data/models/gbdt.joblib`, or `module:function`")
        return value
