"""The charter's ``profile:`` section: the artifact of each model, for ``mlscope profile``.

::

    profile:
      artifacts:                          # model name -> its saved model, beside the charter
        gbdt: data/models/gbdt.joblib     # scikit-learn / joblib pickle
        gbdt_onnx: data/models/gbdt.onnx  # ONNX (onnxruntime)
        rule: rules:score                 # or a Python function `module:function`
      results: mlscope-out/profile/profile.json   # where the software metrics are read

``results`` (optional) is the stored record the charter's software metrics
(``latency_p99_ms``, ``peak_memory_mb`` …) are read from; without it they are read from
``mlscope-out/profile/profile.json`` beside the charter, where ``mlscope profile`` writes.

Paths are relative to the charter and must lie inside the project, like every path a
charter names (:mod:`mlscope.paths`). A pickle runs code when it is loaded: only the
artifacts named here (or with ``--artifact`` on the command line) are ever loaded. See
docs/profiling.md.
"""

from __future__ import annotations

from pydantic import field_validator, model_validator

from mlscope.charter.strict import StrictModel

__all__ = ["ProfileSpec"]


class ProfileSpec(StrictModel):
    """``artifacts``: model name → a file path (relative to the charter) or
    ``module:function``; ``results``: the profile record to read the software metrics
    from (relative to the charter)."""

    artifacts: dict[str, str] | None = None
    results: str | None = None

    @field_validator("artifacts")
    @classmethod
    def _paths(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("`profile.artifacts` names at least one model's artifact; "
                             "write e.g. `artifacts: {gbdt: data/models/gbdt.joblib}`")
        for name, path in value.items():
            if not path.strip():
                raise ValueError(f"`profile.artifacts.{name}` is empty; give the model's "
                                 "file, e.g. `data/models/gbdt.joblib`, or `module:function`")
        return value

    @model_validator(mode="after")
    def _something(self) -> ProfileSpec:
        if self.artifacts is None and self.results is None:
            raise ValueError("`profile` names `artifacts` (what `mlscope profile` times) or "
                             "`results` (the stored profile.json the software metrics are "
                             "read from); write e.g. `artifacts: {gbdt: "
                             "data/models/gbdt.joblib}`")
        if self.results is not None and not self.results.strip():
            raise ValueError("`profile.results` is empty; give the profile record's path, "
                             "e.g. `mlscope-out/profile/profile.json`, or leave it out")
        return self
