"""mlscope.losses: for_charter / for_metric, the Lagrangian on a toy problem, and the
optional import of torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from mlscope.charter import load_charter  # noqa: E402
from mlscope.errors import InputError  # noqa: E402
from mlscope.losses import (  # noqa: E402
    CostWeightedCrossEntropy,
    NoSurrogateError,
    PairwiseAUCLoss,
    PrecisionAtRecallLoss,
    RecallAtPrecisionLoss,
    SmoothAPLoss,
    SoftFBeta,
    SoftMCC,
    for_charter,
    for_metric,
)

ROOT = Path(__file__).resolve().parents[1]
CARAVAN = ROOT / "examples" / "caravan" / "mlscope.yaml"
CANCER = ROOT / "examples" / "breast_cancer" / "mlscope.yaml"


def test_for_charter_caravan_is_precision_at_recall_065() -> None:
    for charter in (CARAVAN, str(CARAVAN), load_charter(CARAVAN)):
        loss = for_charter(charter)
        assert isinstance(loss, PrecisionAtRecallLoss)
        assert loss.metric == "precision_at_recall"
        assert loss.recall == 0.65


def test_for_charter_breast_cancer_uses_the_charters_costs() -> None:
    loss = for_charter(CANCER)
    assert isinstance(loss, CostWeightedCrossEntropy)
    assert loss.costs == (0.0, 1.0, 10.0, 0.0)  # costs: {tp: 0, fp: 1, fn: 10, tn: 0}
    assert loss.cost_threshold == pytest.approx(1 / 11)


def _charter(tmp_path: Path, optimize_entry: str, extra: str = "",
             rule: str = "rule: satisficing\n  optimize: m") -> Path:
    text = (CARAVAN.read_text().split("\nmetrics:")[0].replace(
        "data/caravan_eval.parquet", str(ROOT / "examples/caravan/data/caravan_eval.parquet")))
    body = f"""
metrics:
  - roc_auc
  - {optimize_entry}
{extra}
selection:
  {rule}
"""
    path = tmp_path / "mlscope.yaml"
    path.write_text(text + body)
    return path


@pytest.mark.parametrize(("entry", "cls", "attrs"), [
    ("{id: m, metric: f1, threshold: optimize}", SoftFBeta, {"beta": 1.0, "metric": "f1"}),
    ("{id: m, metric: fbeta, beta: 2}", SoftFBeta, {"beta": 2.0, "metric": "fbeta"}),
    ("{id: m, metric: mcc}", SoftMCC, {}),
    ("{id: m, metric: roc_auc}", PairwiseAUCLoss, {"kind": "logistic"}),
    ("{id: m, metric: average_precision}", SmoothAPLoss, {}),
    ("{id: m, metric: recall_at_precision, precision: 0.1}", RecallAtPrecisionLoss,
     {"precision": 0.1}),
    ("{id: m, metric: net_value, threshold: optimize}", CostWeightedCrossEntropy,
     {"costs": (-22.5, 2.5, 0.0, 0.0)}),
])
def test_for_charter_each_surrogate(tmp_path: Path, entry: str, cls: type,
                                    attrs: dict[str, object]) -> None:
    extra = "costs: {unit: EUR, tp: -22.5, fp: 2.5, fn: 0, tn: 0}" if "net" in entry else ""
    loss = for_charter(_charter(tmp_path, entry, extra))
    assert isinstance(loss, cls)
    for k, v in attrs.items():
        assert getattr(loss, k) == v


@pytest.mark.parametrize(("entry", "match"), [
    ("{id: m, metric: log_loss}", r"log_loss.*itself differentiable.*\nfix: .*BCEWithLogits"),
    ("{id: m, metric: brier}", r"\nfix: train on torch.nn.MSELoss of torch.sigmoid"),
    ("{id: m, metric: precision, threshold: 0.3}", r"degenerate\nfix: .*precision_at_recall"),
    ("{id: m, metric: accuracy}", r"already optimal.*\nfix: train with cross-entropy"),
    ("{id: m, metric: ece}", r"\nfix: .*recalibrate"),
    ("{id: m, custom: 'x:y', direction: higher}", r"custom metric.*no surrogate\nfix:"),
])
def test_for_charter_refuses_metrics_without_a_surrogate(tmp_path: Path, entry: str,
                                                         match: str) -> None:
    with pytest.raises(NoSurrogateError, match=match) as info:
        for_charter(_charter(tmp_path, entry))
    assert isinstance(info.value, InputError)  # the CLI's exit code 2


def test_for_charter_refuses_a_rule_without_one_metric(tmp_path: Path) -> None:
    path = _charter(tmp_path, "{id: m, metric: mcc}",
                    rule="rule: weighted\n  weights: {roc_auc: 1, m: 1}")
    with pytest.raises(InputError, match=r"optimises no single metric.*\nfix:"):
        for_charter(path)


def test_for_metric_errors() -> None:
    with pytest.raises(InputError, match=r"unknown metric `precison_at_recall`.*did you mean"):
        for_metric("precison_at_recall")
    with pytest.raises(NoSurrogateError, match=r"\nfix: train on torch.nn.L1Loss"):
        for_metric("mae", task="regression")
    with pytest.raises(NoSurrogateError, match=r"\nfix: train with torch.nn.CrossEntropyLoss"):
        for_metric("f1_macro", task="multiclass")
    with pytest.raises(NoSurrogateError, match=r"error column.*\nfix:"):
        for_metric("error_mean", task="errors", error="cm")
    with pytest.raises(InputError, match=r"recall"):
        for_metric("precision_at_recall", recall=1.5)
    with pytest.raises(InputError, match=r"tp, fp, fn, tn are not given\nfix"):
        for_metric("expected_cost")
    assert for_metric("expected_cost", costs={"tp": 0, "fp": 1, "fn": 5, "tn": 0}
                      ).cost_threshold == pytest.approx(1 / 6)


def test_for_charter_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        for_charter(tmp_path / "nope.yaml")


def test_precision_at_recall_reaches_the_recall_floor_on_a_toy_problem() -> None:
    # Two overlapping Gaussian classes, 20 % positives: cross-entropy at 0.5 reaches far
    # less than 90 % recall; the Lagrangian must reach it (within 2 points) at its own
    # threshold (logit 0), with a positive multiplier that pays for it.
    g = torch.Generator().manual_seed(0)
    n = 1000
    y = (torch.rand(n, generator=g) < 0.2).float()
    x = torch.randn(n, 2, generator=g) + 1.5 * y[:, None]
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    loss = PrecisionAtRecallLoss(recall=0.9, temperature=0.5)
    opt = torch.optim.Adam(list(model.parameters()) + list(loss.parameters()), lr=0.05)
    for _ in range(600):
        opt.zero_grad()
        loss(model(x)[:, 0], y).backward()
        opt.step()
    with torch.no_grad():
        pred = model(x)[:, 0] > 0
    recall = float((pred & (y == 1)).sum() / (y == 1).sum())
    precision = float((pred & (y == 1)).sum() / pred.sum())
    assert recall >= 0.88, (recall, precision)
    assert precision > 0.2 + 0.05  # better than predicting everything positive
    assert float(loss.multiplier.detach()) > 0


def test_import_mlscope_does_not_import_torch_and_losses_says_how_to_install() -> None:
    code = ("import sys; import mlscope; assert 'torch' not in sys.modules\n"
            "sys.modules['torch'] = None\n"
            "try:\n    import mlscope.losses\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT / "src")})
    assert "pip install 'mlscope[torch]'" in out.stdout


def _toy() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    y = (torch.rand(1000, generator=g) < 0.2).float()
    return torch.randn(1000, 2, generator=g) + 1.5 * y[:, None], y


def _fit(loss: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.mul_(-1)  # start ranking the wrong way round
    opt = torch.optim.Adam([*model.parameters(), *loss.parameters()], lr=0.05)
    for _ in range(600):
        opt.zero_grad()
        loss(model(x)[:, 0], y).backward()
        opt.step()
    with torch.no_grad():
        return model(x)[:, 0]


def test_recall_at_precision_keeps_the_precision_floor_on_a_toy_problem() -> None:
    x, y = _toy()
    loss = RecallAtPrecisionLoss(precision=0.8, temperature=0.5)
    pred = _fit(loss, x, y) > 0
    precision = float((pred & (y == 1)).sum() / pred.sum())
    recall = float((pred & (y == 1)).sum() / (y == 1).sum())
    assert precision >= 0.78, (precision, recall)
    assert recall > 0.3  # not the trivial "predict almost nothing"
    assert float(loss.multiplier.detach()) > 0


def test_aucm_learns_to_rank_on_a_toy_problem() -> None:
    from mlscope.losses import AUCMLoss
    from mlscope.metrics import get_metric
    from mlscope.metrics.stats import binary_stats

    x, y = _toy()
    s = _fit(AUCMLoss(), x, y)
    auc = float(get_metric("roc_auc").fn(binary_stats(y.numpy(), s.numpy())))
    # Two unit Gaussians 1.5·√2 apart: the best AUC is Φ(1.5) ≈ 0.93.
    assert auc > 0.9
