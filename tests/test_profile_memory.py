"""Memory figures of `mlscope profile` against a known allocation, and the fingerprint."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlscope.errors import InputError
from mlscope.profile.loaders import load_model, parameter_count
from mlscope.profile.memory import fingerprint, peak_memory

ALLOC = '''
import numpy as np

def predict(batch):
    # 25 million float64 ones: 200 MB, touched (np.ones writes every page), then freed.
    block = np.ones(25_000_000)
    return float(block[0]) * len(batch)
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_peak_memory_matches_a_known_allocation(tmp_path: Path) -> None:
    (tmp_path / "alloc.py").write_text(ALLOC, encoding="utf-8")
    rows = pd.DataFrame({"x": np.arange(10.0)})
    got = peak_memory("alloc", "alloc:predict", tmp_path, rows, batch_size=1, calls=3)
    assert got["peak_mb"] == pytest.approx(200.0, rel=0.10)
    assert got["process_peak_mb"] > got["peak_mb"]
    assert "VmHWM" in got["method"]


def test_peak_memory_reports_a_model_that_fails(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def predict(batch):\n    raise ValueError('no')\n",
                                        encoding="utf-8")
    rows = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(InputError, match="ValueError"):
        peak_memory("broken", "broken:predict", tmp_path, rows, calls=1)


def test_parameter_count_of_fitted_estimators(tmp_path: Path) -> None:
    sk = pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    assert sk is not None
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 4)), columns=list("abcd"))
    y = (X["a"] + rng.normal(size=200) > 0).astype(int)
    lr = LogisticRegression().fit(X, y)
    assert parameter_count(lr) == 4 + 1  # coef_ and intercept_
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    assert parameter_count(pipe) == 3 * 4 + 4 + 1  # mean_, var_, scale_; coef_, intercept_
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    assert parameter_count(tree) == tree.tree_.node_count
    assert parameter_count(print) is None

    import joblib

    path = tmp_path / "lr.joblib"
    joblib.dump(lr, path)
    m = load_model("lr", "lr.joblib", tmp_path)
    assert (m.kind, m.method, m.parameters) == ("joblib", "predict_proba", 5)
    assert m.features == list("abcd")
    assert m.size_bytes == path.stat().st_size


def test_fingerprint_records_threads_and_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    fp = fingerprint()
    assert fp["threads"]["OMP_NUM_THREADS"] == "1"
    assert fp["libraries"]["numpy"] == np.__version__
    assert fp["cores"] >= fp["cores_usable"] >= 1
    assert fp["python"].count(".") == 2
    assert fp["cpu"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch 2.13 deprecates TorchScript
def test_torchscript_artifact(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from mlscope.profile.loaders import prepare_batches

    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    torch.jit.save(torch.jit.script(net), tmp_path / "net.pt")
    m = load_model("net", "net.pt", tmp_path)
    assert (m.kind, m.parameters) == ("torchscript", 3 * 4 + 4 + 4 + 1)
    rows = pd.DataFrame(np.arange(12.0).reshape(4, 3), columns=list("abc"))
    batches = prepare_batches(m, rows, 2, 3)
    assert batches[0].dtype == np.float32
    assert batches[0].shape == (2, 3)
    assert tuple(m.predict(batches[0]).shape) == (2, 1)


def test_onnx_without_onnxruntime_says_how_to_install(tmp_path: Path) -> None:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        (tmp_path / "m.onnx").write_bytes(b"\x08\x07")
        with pytest.raises(InputError, match="pip install onnxruntime"):
            load_model("m", "m.onnx", tmp_path)
    else:
        pytest.skip("onnxruntime is installed")
