"""Which data columns an ONNX model takes, and how a batch is handed to its session.

An ONNX graph knows its inputs' names, types and shapes, not the data's column names. The
columns are found, in this order:

1. **One input per column** (skl2onnx with ``initial_types=[("age", FloatTensorType([None,
   1])), ...]``, the form that keeps mixed-type tables): the input names are the columns;
   each gets its column as an ``(n, 1)`` array of the input's type.
2. **One matrix input and the feature names in the model's metadata** — a
   ``metadata_props`` entry ``features`` holding a JSON list of column names (written at
   export, e.g. ``onnx.helper.set_model_props(onx, {"features": json.dumps(cols)})``).
3. **One matrix input whose width equals the number of numeric columns** of the data
   sample: those columns, in the data's order (said in a note, since the order is a guess).

Anything else is refused with the fix: mlscope never feeds a model columns it cannot name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlscope.errors import InputError

__all__ = ["OnnxInputs", "onnx_inputs"]

# ONNX Runtime's type strings for the element types a table column can be fed as.
_TYPES: dict[str, Any] = {
    "tensor(float)": np.float32, "tensor(double)": np.float64,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(string)": object,
    "tensor(bool)": np.bool_,
}


@dataclass
class OnnxInputs:
    """The columns an ONNX model takes and how to build its feed from a batch frame."""

    features: list[str]
    feed: Callable[[Any], dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def _fix() -> str:
    return ("export the model with one input per column (skl2onnx: initial_types=[(column, "
            "FloatTensorType([None, 1])), ...]) or record the columns in its metadata: "
            "onnx.helper.set_model_props(model, {\"features\": json.dumps(columns)})")


def onnx_inputs(name: str, sess: Any, columns: list[str], numeric: list[str]) -> OnnxInputs:
    """Map an ONNX session's inputs to the data's columns.

    Parameters
    ----------
    name
        The model's name, for messages.
    sess
        An ``onnxruntime.InferenceSession``.
    columns, numeric
        The data sample's feature columns, and those of them that are numeric.

    Raises
    ------
    InputError
        The inputs cannot be matched to named columns (the message says how to export).
    """
    inputs = sess.get_inputs()
    if len(inputs) > 1:
        missing = [i.name for i in inputs if i.name not in columns]
        if missing:
            raise InputError(f"model `{name}`: its ONNX inputs {', '.join(missing[:5])} are "
                             "not columns of the data; name each input after its column")
        kinds = {i.name: _TYPES.get(i.type) for i in inputs}
        bad = [f"{n} ({i.type})" for i in inputs if (n := i.name) and kinds[n] is None]
        if bad:
            raise InputError(f"model `{name}`: ONNX input types mlscope cannot feed from a "
                             f"table: {', '.join(bad[:3])}; use float, double, int64 or "
                             "string inputs")
        names = [i.name for i in inputs]

        def feed_columns(frame: Any) -> dict[str, Any]:
            return {n: frame[n].to_numpy().astype(kinds[n]).reshape(-1, 1) for n in names}

        return OnnxInputs(names, feed_columns)
    (inp,) = inputs
    dtype = _TYPES.get(inp.type)
    if dtype is None or dtype is object:
        raise InputError(f"model `{name}`: its one ONNX input is {inp.type}; a matrix input "
                         f"must be numeric. Fix: {_fix()}")
    meta = sess.get_modelmeta().custom_metadata_map.get("features")
    notes: list[str] = []
    if meta is not None:
        try:
            feats = json.loads(meta)
            ok = isinstance(feats, list) and all(isinstance(f, str) for f in feats)
        except ValueError:
            ok = False
        if not ok:
            raise InputError(f"model `{name}`: its metadata `features` is not a JSON list of "
                             f"column names. Fix: {_fix()}")
        missing = [f for f in feats if f not in columns]
        if missing:
            raise InputError(f"model `{name}`: its metadata names columns the data lack: "
                             f"{', '.join(missing[:5])}; profile it with the data it takes")
    else:
        width = inp.shape[1] if len(inp.shape) == 2 else None
        if not isinstance(width, int) or width != len(numeric):
            raise InputError(
                f"model `{name}`: its ONNX input takes {width if width else 'an unknown'} "
                f"column(s) without naming them, and the data have {len(numeric)} numeric "
                f"feature column(s). Fix: {_fix()}")
        feats = list(numeric)
        notes.append(f"the ONNX model names no columns: fed the data's {len(feats)} numeric "
                     "columns in their order; record them in its metadata to be sure")

    def feed_matrix(frame: Any) -> dict[str, Any]:
        return {inp.name: np.ascontiguousarray(frame[feats].to_numpy(dtype=dtype))}

    return OnnxInputs(list(feats), feed_matrix, notes)
