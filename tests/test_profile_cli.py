"""`mlscope profile` end to end on a small project, and bad input: exit 2 with the fix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from mlscope.cli import main

pytest.importorskip("sklearn")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A charter, its data and a fitted logistic regression saved with joblib."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"row_id": np.arange(n), "x1": rng.normal(size=n),
                       "x2": rng.normal(size=n), "region": rng.choice(["n", "s"], n)})
    df["label"] = (df["x1"] + rng.normal(size=n) > 0).astype(int)
    df["split"] = np.where(np.arange(n) % 2 == 0, "validation", "test")
    model = LogisticRegression().fit(df[["x1", "x2"]], df["label"])
    df["p_good"] = model.predict_proba(df[["x1", "x2"]])[:, 1]
    df.to_parquet(tmp_path / "eval.parquet", index=False)
    (tmp_path / "models").mkdir()
    joblib.dump(model, tmp_path / "models" / "good.joblib")
    (tmp_path / "raiser.py").write_text(
        "def predict(batch):\n    raise RuntimeError('boom')\n", encoding="utf-8")
    charter = {
        "project": "profiled", "task": "binary", "seed": 3,
        "data": {"table": "eval.parquet", "id": "row_id", "label": "label", "split": "split",
                 "models": {"good": "p_good"}},
        "metrics": ["roc_auc"],
        "selection": {"rule": "satisficing", "optimize": "roc_auc"},
        "profile": {"artifacts": {"good": "models/good.joblib", "boom": "raiser:predict"}},
    }
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(charter, sort_keys=False), encoding="utf-8")
    return path


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["profile", *args])
    return r.exit_code, r.output


def test_profile_writes_the_record(project: Path) -> None:
    code, out = _run(str(project), "--model", "good", "--calls", "60", "--qps", "400",
                     "--batch-sizes", "1,4", "--no-memory")
    assert code == 0, out
    assert "good (joblib, predict_proba" in out
    assert "single-stream" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    rec = json.loads((project.parent / "mlscope-out" / "profile" / "profile.json").read_text())
    m = rec["models"]["good"]
    assert rec["options"]["seed"] == 3  # the charter's
    ss = m["single_stream"]
    assert ss["calls"] == 60
    assert len(ss["latencies_ns"]) == 60
    assert ss["measured"] == 60 - ss["warmup"]["calls"]
    p99 = ss["percentiles"]["p99"]
    assert p99["upper_ms"] is None
    assert p99["min_calls_for_upper"] == 299
    assert any("299" in n for n in m["notes"])
    p50 = ss["percentiles"]["p50"]
    assert p50["low_ms"] <= p50["value_ms"] <= p50["upper_ms"] <= p50["high_ms"]
    assert m["server"]["target_qps"] == 400
    assert m["server"]["calls"] == 60
    assert [b["batch_size"] for b in m["batch_sweep"]] == [1, 4]
    assert m["offline"]["rows"] == 4
    assert m["parameters"] == 3
    assert rec["environment"]["libraries"]["numpy"] == np.__version__
    assert rec["comparisons"] == []  # one model: nothing to compare


def test_two_models_are_compared_as_a_ratio(project: Path) -> None:
    (project.parent / "slow.py").write_text(
        "import time\n\ndef predict(batch):\n    time.sleep(0.002)\n    return [0.5]\n",
        encoding="utf-8")
    code, out = _run(str(project), "--model", "good", "--model", "slow", "--artifact",
                     "slow=slow:predict", "--scenario", "single-stream", "--calls", "40",
                     "--no-memory")
    assert code == 0, out
    rec = json.loads((project.parent / "mlscope-out" / "profile" / "profile.json").read_text())
    (c,) = rec["comparisons"]
    assert (c["model"], c["reference"], c["statistic"]) == ("slow", "good", "median")
    assert c["low"] <= c["ratio"] <= c["high"]
    assert "against good" in out


def test_profile_json_and_memory(project: Path, tmp_path: Path) -> None:
    code, out = _run(str(project), "--model", "good", "--scenario", "single-stream",
                     "--calls", "30", "--json", "--out", str(tmp_path / "o"))
    assert code == 0, out
    rec = json.loads(out)
    mem = rec["models"]["good"]["memory"]
    assert mem["peak_mb"] >= 0
    assert mem["process_peak_mb"] > mem["peak_mb"]
    assert rec["models"]["good"]["server"] is None
    assert (tmp_path / "o" / "profile.json").is_file()


@pytest.mark.parametrize(("args", "needles"), [
    pytest.param(["--model", "boom"], ["RuntimeError: boom"], id="callable-raises"),
    pytest.param(["--batch-sizes", "0"], ["batch size must be at least 1", "1,8,64"],
                 id="batch-size-0"),
    pytest.param(["--batch-sizes", "1,x"], ["whole numbers"], id="batch-size-text"),
    pytest.param(["--qps", "0"], ["--qps must be greater than 0"], id="qps-0"),
    pytest.param(["--qps", "-2"], ["--qps must be greater than 0"], id="qps-negative"),
    pytest.param(["--latency-bound-ms", "0"], ["--latency-bound-ms must be greater than 0"],
                 id="bound-0"),
    pytest.param(["--model", "goood"], ["not a model of the charter", "did you mean `good`"],
                 id="unknown-model"),
    pytest.param(["--scenario", "server"], ["--qps Q", "--latency-bound-ms B"],
                 id="server-without-target"),
    pytest.param(["--artifact", "good"], ["NAME=PATH"], id="artifact-without-path"),
    pytest.param(["--latency-bound-ms", "50"], ["at least 299 calls", "--calls 1000"],
                 id="search-with-too-few-calls"),
    pytest.param(["--confidence", "1"], ["--confidence"], id="confidence-1"),
])
def test_bad_input_exits_2_with_the_fix(project: Path, args: list[str],
                                        needles: list[str]) -> None:
    code, out = _run(str(project), "--calls", "20", "--no-memory", *args)
    assert code == 2, out
    flat = " ".join(out.split())
    for needle in needles:
        assert needle in flat


def test_artifact_that_does_not_load(project: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.joblib"
    bad.write_bytes(b"this is not a pickle")
    code, out = _run(str(project), "--model", "bad", "--artifact", f"bad={bad}", "--no-memory")
    assert code == 2
    assert "does not load" in out
    assert "joblib.dump" in " ".join(out.split())
    code, out = _run(str(project), "--model", "gone", "--artifact",
                     f"gone={tmp_path / 'missing.joblib'}", "--no-memory")
    assert code == 2
    assert "artifact not found" in out


def test_model_of_the_charter_without_artifact(project: Path) -> None:
    ch = yaml.safe_load(project.read_text())
    ch["profile"]["artifacts"] = {"other": "models/good.joblib"}
    project.write_text(yaml.safe_dump(ch), encoding="utf-8")
    code, out = _run(str(project), "--model", "good", "--no-memory")
    assert code == 2
    assert "without an artifact" in out
    assert "profile.artifacts.good" in out


def test_charter_artifact_outside_the_project(project: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLSCOPE_ALLOW_DIRS", raising=False)
    inner = tmp_path / "inner"
    inner.mkdir()
    for name in ("mlscope.yaml", "eval.parquet"):
        (inner / name).write_bytes((tmp_path / name).read_bytes())
    ch = yaml.safe_load((inner / "mlscope.yaml").read_text())
    ch["profile"]["artifacts"] = {"good": "../models/good.joblib"}
    (inner / "mlscope.yaml").write_text(yaml.safe_dump(ch), encoding="utf-8")
    code, out = _run(str(inner / "mlscope.yaml"), "--no-memory")
    assert code == 2
    assert "outside the project" in out
    assert "profile.artifacts.good" in out


@pytest.mark.parametrize(("section", "needle"), [
    pytest.param({"artifacts": {}}, "at least one model's artifact", id="empty"),
    pytest.param({"artifacts": {"good": " "}}, "`profile.artifacts.good` is empty",
                 id="blank-path"),
    pytest.param({"artifact": {"good": "m.joblib"}}, "artifacts", id="misspelt-key"),
])
def test_bad_profile_section_is_a_charter_problem(project: Path, section: dict[str, object],
                                                  needle: str) -> None:
    ch = yaml.safe_load(project.read_text())
    ch["profile"] = section
    project.write_text(yaml.safe_dump(ch), encoding="utf-8")
    r = CliRunner().invoke(main, ["validate", str(project), "--no-data"])
    assert r.exit_code == 2, r.output
    assert needle in " ".join(r.output.split())


def test_charter_artifacts_cannot_escape_the_project(project: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A symbolic link to a file outside, or an installed module's function, is refused
    before anything is loaded (a pickle runs code; so does an import)."""
    monkeypatch.delenv("MLSCOPE_ALLOW_DIRS", raising=False)
    inner = tmp_path / "inner"
    inner.mkdir()
    for name in ("mlscope.yaml", "eval.parquet"):
        (inner / name).write_bytes((tmp_path / name).read_bytes())
    (inner / "linked.joblib").symlink_to(tmp_path / "models" / "good.joblib")
    ch = yaml.safe_load((inner / "mlscope.yaml").read_text())
    for spec, needle in (("linked.joblib", "symbolic link"), ("os:system", "installed")):
        ch["profile"]["artifacts"] = {"good": spec}
        (inner / "mlscope.yaml").write_text(yaml.safe_dump(ch), encoding="utf-8")
        code, out = _run(str(inner / "mlscope.yaml"), "--no-memory", "--calls", "5")
        assert code == 2, out
        assert needle in " ".join(out.split())


def test_summary_numbers_read_without_exponents_and_name_a_busy_machine(
        project: Path) -> None:
    import io

    from rich.console import Console

    from mlscope.cli_profile import render_profile

    code, out = _run(str(project), "--model", "good", "--scenario", "single-stream",
                     "--calls", "40", "--no-memory")
    assert code == 0, out
    rec = json.loads((project.parent / "mlscope-out" / "profile" / "profile.json").read_text())
    # A slow tail on a busy machine with unpinned threads (figures set by hand).
    p99 = rec["models"]["good"]["single_stream"]["percentiles"]["p99"]
    p99["value_ms"], p99["upper_ms"] = 1770.4, 1821.0
    rec["environment"]["load_per_core"] = 2.3
    rec["environment"]["threads"] = dict.fromkeys(rec["environment"]["threads"])
    # A model 500 times faster, one 2.1 times slower, one not clearly different.
    rec["comparisons"] = [
        {"model": m, "reference": "good", "ratio": r, "low": lo, "high": hi,
         "statistic": "median", "method": "bootstrap", "seed": 1}
        for m, r, lo, hi in (("fast", 0.002, 0.0019, 0.0021), ("slow", 2.1, 1.9, 2.3),
                             ("same", 1.02, 0.97, 1.08))]
    con = Console(record=True, width=80, file=io.StringIO())
    render_profile(rec, con)
    text = con.export_text()
    assert "fast: 500× faster (476–526)" in text
    assert "slow: 2.10× slower (1.90–2.30)" in text
    assert "same: 1.02× (0.97–1.08): no clear difference" in text
    assert "1,770 (≤ 1,821)" in text
    assert "e+" not in text
    assert "the machine was busy (load 2.3 per core" in text
    assert "OMP_NUM_THREADS=1" in text
    assert all(len(line) <= 80 for line in text.splitlines())
