"""Load a model artifact and make its predict function.

Kinds, by the artifact's name:

* ``*.joblib``, ``*.pkl``, ``*.pickle`` — a scikit-learn (or any) object saved with
  joblib or pickle. **Loading a pickle runs code**: only a path that the charter
  (``profile.artifacts``) or the command line (``--artifact``) names is ever loaded.
* ``*.onnx`` — ONNX Runtime on the CPU (``pip install onnxruntime``).
* ``*.pt``, ``*.ts`` — a TorchScript module (``torch.jit.load``; CPU), if torch is installed.
* ``module:function`` — a Python function beside the charter (as custom metrics), called
  with the batch.

The predict function is the object's ``predict_proba`` when it has one, else ``predict``
(or the object itself when it is a plain callable).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlscope.errors import InputError
from mlscope.plugins import describe, load_callable
from mlscope.profile.onnx_inputs import onnx_inputs

__all__ = ["LoadedModel", "is_callable_ref", "load_model", "parameter_count", "prepare_batches"]

_PICKLES = (".joblib", ".pkl", ".pickle")
_ONNX = (".onnx",)
_TORCH = (".pt", ".ts", ".torchscript")
_DIAGNOSTICS = ("score", "loss", "n_iter")


@dataclass
class LoadedModel:
    """A model ready to call: ``predict`` takes one batch as prepared by
    :func:`prepare_batches`. ``kind`` is joblib, onnx, torchscript or callable."""

    name: str
    kind: str
    source: str
    predict: Callable[[Any], Any]
    method: str
    size_bytes: int | None
    parameters: int | None
    features: list[str] | None
    obj: Any = None
    # What the caller should know about how the model was fed (an ONNX model's columns).
    notes: list[str] = field(default_factory=list)


def is_callable_ref(spec: str) -> bool:
    """Whether ``spec`` is ``module:function`` rather than a file path."""
    head, sep, tail = spec.partition(":")
    # `C:\\models\\m.pkl` is a Windows path, not module:function.
    return bool(sep) and bool(tail) and len(head) > 1 and "/" not in spec \
        and "\\" not in spec and not spec.endswith(_PICKLES + _ONNX + _TORCH)


def _load_error(name: str, path: Path, exc: BaseException, fix: str) -> InputError:
    return InputError(f"model `{name}`: the artifact {path} does not load ({describe(exc)}); "
                      f"{fix}")


def _file_size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def _load_pickle(name: str, path: Path) -> Any:
    fix = ("save it with joblib.dump(model, path) in the same versions of Python and "
           "scikit-learn that load it")
    try:
        try:
            import joblib  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            joblib = None
        if joblib is not None:
            return joblib.load(path)
        with path.open("rb") as fh:
            # A pickle runs code: only a file the charter or the command line named.
            return pickle.load(fh)
    except Exception as exc:
        raise _load_error(name, path, exc, fix) from None


def _load_onnx(name: str, path: Path) -> tuple[Any, Callable[[Any], Any], int | None]:
    try:
        import onnxruntime as ort  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise InputError(f"model `{name}`: {path} is an ONNX model and needs ONNX Runtime; "
                         "install it with `pip install onnxruntime`") from None
    try:
        opts = ort.SessionOptions()
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise _load_error(name, path, exc, "export it again (e.g. with skl2onnx) and check "
                          "it with `onnx.checker.check_model`") from None
    outs = [o.name for o in sess.get_outputs()]
    # A classifier exported by skl2onnx outputs (label, probabilities): take the latter.
    out = [outs[-1]] if len(outs) > 1 else outs

    def predict(feed: Any) -> Any:
        # `feed`: the input dict prepare_batches built (mlscope.profile.onnx_inputs).
        return sess.run(out, feed)[0]

    params: int | None = None
    try:
        import onnx  # type: ignore[import-not-found,import-untyped,unused-ignore]

        graph = onnx.load(str(path)).graph
        params = int(sum(int(np.prod(t.dims)) for t in graph.initializer))
        # Classic-ML operators (ai.onnx.ml: linear models, trees) keep their learned values
        # in node attributes, not initializers: float lists and tensors.
        for node in graph.node:
            for a in node.attribute:
                if a.type == onnx.AttributeProto.FLOATS:
                    params += len(a.floats)
                elif a.type == onnx.AttributeProto.TENSOR:
                    params += int(np.prod(a.t.dims))
    except Exception:  # onnx not installed: the count is unknown, not an error
        params = None
    return sess, predict, params


def _load_torch(name: str, path: Path) -> tuple[Any, Callable[[Any], Any], int | None]:
    try:
        import torch  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise InputError(f"model `{name}`: {path} is a TorchScript model and needs torch; "
                         "install it with `pip install torch`") from None
    try:
        loaded = torch.jit.load(  # type: ignore[no-untyped-call,unused-ignore]
            str(path), map_location="cpu")
        mod = loaded.eval()
    except Exception as exc:
        raise _load_error(name, path, exc, "save it with torch.jit.save(torch.jit.script("
                          "model), path)") from None

    def predict(x: Any) -> Any:
        with torch.inference_mode():
            return mod(torch.from_numpy(x))

    params = int(sum(p.numel() for p in mod.parameters()))
    return mod, predict, params


def parameter_count(obj: Any) -> int | None:
    """Numeric values a fitted scikit-learn estimator stores, where that is known.

    Counts the elements of its public fitted float arrays (attributes ending in ``_``:
    ``coef_``, ``intercept_``, ``theta_``, a scaler's ``mean_`` …; not scores or losses),
    the nodes of its trees (``tree_``), the stored training values of nearest neighbours
    (``n_samples_fit_ × n_features_in_``), and recurses into pipelines, column
    transformers and ensembles. ``None`` when nothing
    countable is found (e.g. a plain function, or histogram gradient boosting, whose
    trees are not public).
    """
    seen: set[int] = set()

    def count(o: Any, depth: int) -> int:
        if depth > 6 or id(o) in seen:
            return 0
        seen.add(id(o))
        total = 0
        for attr in ("steps", "transformers_", "estimators_"):
            parts = getattr(o, attr, None)
            if isinstance(parts, list | tuple | np.ndarray):
                for p in np.asarray(parts, dtype=object).ravel():
                    sub = p[1] if isinstance(p, tuple) and len(p) > 1 else p
                    total += count(sub, depth + 1)
        tree = getattr(o, "tree_", None)
        if tree is not None and hasattr(tree, "node_count"):
            total += int(tree.node_count)
        for key, val in vars(o).items() if hasattr(o, "__dict__") else []:
            # Learned values only: floats (not class labels or feature names), and not
            # training diagnostics (scores, losses).
            if key.endswith("_") and not key.startswith("_") and isinstance(val, np.ndarray) \
                    and val.dtype.kind == "f" and not any(w in key for w in _DIAGNOSTICS):
                total += int(val.size)
        fitted, width = getattr(o, "n_samples_fit_", None), getattr(o, "n_features_in_", None)
        if isinstance(fitted, int) and isinstance(width, int):
            total += fitted * width  # nearest neighbours keep the training rows
        return total

    try:
        n = count(obj, 0)
    except Exception:  # an exotic object: unknown rather than a crash
        return None
    return n or None


def load_model(name: str, spec: str, base_dir: Path) -> LoadedModel:
    """Load ``spec`` (a file path, already checked by the caller, or ``module:function``).

    Parameters
    ----------
    name
        The model's name, for messages.
    spec
        The artifact's path, or ``module:function`` of a function beside ``base_dir``.
    base_dir
        The charter's folder (relative paths and modules are looked up there).

    Raises
    ------
    InputError
        The file is missing, of an unknown kind, or does not load; the optional library it
        needs is missing; the object has neither ``predict_proba`` nor ``predict``.
    """
    if is_callable_ref(spec):
        fn = load_callable(spec, base_dir, what=f"model `{name}` ({spec})")
        return LoadedModel(name, "callable", spec, fn, "call", None, None, None, fn)
    path = Path(spec).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if not path.exists():
        raise InputError(f"model `{name}`: artifact not found: {path}; write the model first "
                         "(e.g. joblib.dump(model, path)) or fix the path")
    size = _file_size(path)
    suffix = path.suffix.lower()
    if suffix in _ONNX:
        sess, predict, params = _load_onnx(name, path)
        return LoadedModel(name, "onnx", str(path), predict, "run", size, params, None, sess)
    if suffix in _TORCH:
        mod, predict, params = _load_torch(name, path)
        return LoadedModel(name, "torchscript", str(path), predict, "forward", size, params,
                           None, mod)
    if suffix not in _PICKLES:
        raise InputError(f"model `{name}`: {path.name} is not a model file mlscope can load; "
                         "use .joblib/.pkl (scikit-learn), .onnx, .pt (TorchScript) or "
                         "`module:function`")
    obj = _load_pickle(name, path)
    method = "predict_proba" if hasattr(obj, "predict_proba") else \
        "predict" if hasattr(obj, "predict") else "call" if callable(obj) else ""
    if not method:
        raise InputError(f"model `{name}`: {path} holds a {type(obj).__name__}, which has "
                         "neither predict_proba nor predict; save the fitted estimator")
    fn = obj if method == "call" else getattr(obj, method)
    feats = getattr(obj, "feature_names_in_", None)
    return LoadedModel(name, "joblib", str(path), fn, method, size, parameter_count(obj),
                       [str(f) for f in feats] if feats is not None else None, obj)


def prepare_batches(model: LoadedModel, rows: Any, batch_size: int, count: int
                    ) -> list[Any]:
    """``count`` batches of ``batch_size`` rows, cycling through ``rows`` (a DataFrame),
    in the form the model takes: a DataFrame of its training features for scikit-learn
    (columns it was fitted on, when it records them), a float32 array for ONNX and torch.
    Prepared before timing, so that slicing is not measured."""
    if batch_size < 1:
        raise InputError(f"a batch size must be at least 1, got {batch_size}; write e.g. "
                         "--batch-sizes 1,8,64")
    frame = rows
    if model.kind == "onnx":
        return _onnx_batches(model, rows, batch_size, count)
    if model.features is not None:
        missing = [f for f in model.features if f not in frame.columns]
        if missing:
            raise InputError(f"model `{model.name}` was fitted on columns the data lack: "
                             f"{', '.join(missing[:5])}; profile it with the data it takes")
        frame = frame[model.features]
    n = len(frame)
    if n == 0:
        raise InputError("no input rows to profile with; the data sample is empty")
    as_array = model.kind == "torchscript"
    arr = np.ascontiguousarray(frame.to_numpy(dtype=np.float32)) if as_array else None
    out = []
    for i in range(count):
        idx = np.arange(i * batch_size, (i + 1) * batch_size) % n
        out.append(arr[idx] if arr is not None else frame.iloc[idx])
    return out


def _onnx_batches(model: LoadedModel, rows: Any, batch_size: int, count: int) -> list[Any]:
    """Feeds for an ONNX session: its inputs matched to the data's columns by name (or by
    its metadata, or by width: :mod:`mlscope.profile.onnx_inputs`)."""
    import pandas as pd

    cols = [str(c) for c in rows.columns]
    numeric = [str(c) for c in rows.columns if pd.api.types.is_numeric_dtype(rows[c])]
    mapping = onnx_inputs(model.name, model.obj, cols, numeric)
    for note in mapping.notes:
        if note not in model.notes:
            model.notes.append(note)
    model.features = mapping.features
    n = len(rows)
    if n == 0:
        raise InputError("no input rows to profile with; the data sample is empty")
    frame = rows[mapping.features]
    return [mapping.feed(frame.iloc[np.arange(i * batch_size, (i + 1) * batch_size) % n])
            for i in range(count)]
