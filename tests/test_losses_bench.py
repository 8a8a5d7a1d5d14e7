"""The losses benchmark (benchmarks/losses_bench.py) runs end to end on a small setting."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_losses_bench_runs_and_writes_its_table(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("losses_bench",
                                                  ROOT / "benchmarks" / "losses_bench.py")
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the class is created.
    monkeypatch.setitem(sys.modules, "losses_bench", bench)
    spec.loader.exec_module(bench)
    assert bench.main(["--tables", "digits3", "--seeds", "2", "--steps", "20",
                       "--resamples", "50", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "losses.json").read_text())
    cells = results["cells"]
    assert [(c["table"], c["model"]) for c in cells] == [("digits-8-3pct", "linear"),
                                                         ("digits-8-3pct", "mlp")]
    methods = cells[0]["methods"]
    assert set(methods) == {"ce", "ce-es", "pr-lagrangian", "pr-lagrangian+warm", "soft-f1",
                            "soft-f1+warm", "smooth-ap", "smooth-ap+warm", "ce@pr",
                            "pr-lagrangian@pr", "soft-f1@pr", "smooth-ap@pr"}
    # Every surrogate carries its paired difference with an interval around it.
    row = methods["soft-f1"]["p_at_r"]
    assert row["lower"] <= row["upper"]
    assert row["diff"] == pytest.approx(row["value"] - methods["ce"]["p_at_r"]["value"])
    assert row["diff_pr"] == pytest.approx(
        row["value"] - methods["ce@pr"]["p_at_r"]["value"])
    assert row["diff_es"] == pytest.approx(
        row["value"] - methods["ce-es"]["p_at_r"]["value"])
    assert "| ce |" in (tmp_path / "losses.md").read_text()
    assert "digits-8-3pct, linear" in capsys.readouterr().out
