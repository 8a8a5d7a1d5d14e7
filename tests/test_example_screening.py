"""The bundled breast-cancer screening example (scikit-learn's data): a learned model
clearly beats the clinicians' size rule, and the verdict says to ship it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlscope.cli import main
from mlscope.result import EvaluationResult

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "breast_cancer"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("screening")
    for name in ("mlscope.yaml", "rules.py"):
        shutil.copy(EXAMPLE / name, tmp / name)
    subprocess.run([sys.executable, str(EXAMPLE / "prepare.py"), "--out", str(tmp / "data")],
                   check=True, capture_output=True)
    return tmp / "mlscope.yaml"


def test_the_verdict_is_to_ship_the_model(project: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["run", str(project), "--out", str(tmp_path), "--no-store"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("Verdict: Ship logistic")
    res = EvaluationResult.from_json(tmp_path / "result.json")
    v = res.verdict
    assert v is not None
    assert (v.kind, v.model, v.metric) == ("ship", "logistic", "cost")
    # It beats the size rule on the expected cost beyond the paired interval (the cost is
    # lower-is-better: the lead is the rule's cost minus the model's).
    beats = [x.figures for x in v.reasons if "size_rule" in x.text]
    assert beats
    assert beats[0]["lower"] > 0
    assert all(rc.met for rc in v.requirements if rc.model == "logistic")
    # The costs section sets the model beside the rule, in biopsies per case.
    costs = v.sections["costs"]
    assert "in biopsies" in costs[0]
    assert any(line.startswith("size_rule: ") for line in costs)
    # The cost-optimal referral threshold is chosen on validation and carried to test.
    thr = {(t.model, t.metric): t for t in res.thresholds}
    assert thr[("logistic", "cost")].chosen_on == "validation"
    assert 0 < (thr[("logistic", "cost")].threshold or 0) < 1
    # The guarantee: a referral threshold that keeps sensitivity ≥ 0.90 with probability
    # ≥ 0.95, certified on validation and read on test, stated in the verdict.
    g = next(x for x in res.guarantees if x.metric == "recall" and x.slice == "overall")
    assert g.model == "logistic"
    assert g.threshold is not None
    assert g.certified is not None
    assert g.certified >= 0.90
    assert g.report is not None
    assert g.report >= g.certified - 0.1
    assert any(line.startswith("recall >= 0.9 with probability ≥ 0.95: threshold")
               for line in v.sections["guarantees"])
    # Human in the loop: the deferral rule keeps the error on decided cases within 5%
    # (certified) and defers at most a quarter of the cases.
    h = res.human_in_the_loop
    assert h is not None
    assert v.sections["human_in_the_loop"]
    # Scope: every cell the section keeps out is named with its reason.
    s = res.scope
    assert s is not None
    assert s.model == "logistic"
    out = [c for c in s.cells if c.status != "certified" and c.slice != "overall"]
    assert out
    for c in out:
        assert any(line.startswith(f"Keep out {c.slice}:") for line in v.sections["scope"])
    assert s.included
    assert s.share is not None
    assert 0 < s.share < 1
