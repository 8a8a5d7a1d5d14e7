"""The bundled Caravan example end to end, as `make demo` runs it, plus `mlscope check`.

Slow (the example fits its models and bootstraps 1,000 times); `make test` runs it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlscope.cli import main
from mlscope.result import EvaluationResult

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "caravan"

pytest.importorskip("ISLP")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("caravan")
    for name in ("mlscope.yaml", "rules.py"):
        shutil.copy(EXAMPLE / name, tmp / name)
    subprocess.run([sys.executable, str(EXAMPLE / "prepare.py"), "--out", str(tmp / "data")],
                   check=True, capture_output=True)
    return tmp / "mlscope.yaml"


def test_run_selects_gbdt_with_baselines(project: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["run", str(project), "--out", str(tmp_path), "-q"])
    assert r.exit_code == 0, r.output
    res = EvaluationResult.from_json(tmp_path / "result.json")
    assert res.winner == "gbdt"
    fams = {m.name: m.family for m in res.models if m.kind == "baseline"}
    assert fams == {"prior": "trivial", "majority": "trivial", "simple_logistic": "learned",
                    "gbdt_all_features": "learned", "marketing_rule": "rule"}
    assert res.human is not None
    dropped = {d["model"] for d in res.selection.primary.dropped}
    assert {"logistic", "knn", "naive_bayes"} <= dropped  # do not beat the rule of thumb
    assert res.selection.confidence is not None
    assert res.selection.confidence.winner_share is not None
    assert (tmp_path / "report.html").stat().st_size > 50_000


def test_check_passes_for_the_winner_and_fails_for_the_faulty_release(
        project: Path, tmp_path: Path) -> None:
    ok = CliRunner().invoke(main, ["check", str(project), "--out", str(tmp_path / "a"), "-q"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("PASS: candidate gbdt against the blessed knn")
    bad = CliRunner().invoke(main, ["check", str(project), "--candidate", "gbdt_v2",
                                    "--out", str(tmp_path / "b"), "-q"])
    assert bad.exit_code == 1, bad.output
    assert ("roc_auc on slice customer_type=Driven Growers × age_group=40-50 years "
            "regressed beyond 0.02") in bad.output
    assert (tmp_path / "b" / "check.md").exists()
