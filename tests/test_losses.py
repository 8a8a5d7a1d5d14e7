"""mlscope.losses: gradients (gradcheck in float64) and each surrogate's value against
mlscope's exact metric as its temperature goes to 0."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mlscope.errors import InputError  # noqa: E402
from mlscope.losses import (  # noqa: E402
    AUCMLoss,
    CostWeightedCrossEntropy,
    LovaszHingeLoss,
    LovaszSoftmaxLoss,
    PairwiseAUCLoss,
    PrecisionAtRecallLoss,
    RecallAtPrecisionLoss,
    SmoothAPLoss,
    SoftExpectedCost,
    SoftFBeta,
    SoftMCC,
)
from mlscope.metrics import get_metric  # noqa: E402
from mlscope.metrics.stats import binary_stats  # noqa: E402

COSTS = {"tp": -5.0, "fp": 1.0, "fn": 3.0, "tn": 0.0}


def _batch(seed: int, n: int = 40, share: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < share).double()
    y[0], y[1] = 1.0, 0.0  # both classes
    # Distinct logits (no ties), none at the threshold 0, and informative.
    s = torch.randn(n, generator=g, dtype=torch.float64) + 1.2 * y
    s = s + torch.where(s >= 0, 1e-3, -1e-3)
    return s, y


def _exact(name: str, s: torch.Tensor, y: torch.Tensor, **params: object) -> float:
    spec = get_metric(name)
    stats = binary_stats(y.numpy(), torch.sigmoid(s).numpy())
    return float(spec.fn(stats, **spec.resolve_params(params, task="binary")))


BINARY_LOSSES = [
    SoftFBeta(), SoftFBeta(beta=2.0, temperature=0.5), SoftMCC(),
    SoftExpectedCost(COSTS), CostWeightedCrossEntropy(COSTS),
    PairwiseAUCLoss("logistic"), PairwiseAUCLoss("sigmoid", temperature=0.7),
    AUCMLoss(), SmoothAPLoss(), PrecisionAtRecallLoss(0.7), RecallAtPrecisionLoss(0.6),
    LovaszHingeLoss(),
]


@pytest.mark.parametrize("loss", BINARY_LOSSES, ids=lambda x: type(x).__name__)
def test_gradcheck_binary(loss: torch.nn.Module) -> None:
    s, y = _batch(0, n=24)
    x = s.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: loss(v, y), (x,), eps=1e-6, atol=1e-5)
    # The loss's own parameters (a, b, alpha; the multiplier) too, as the plain function
    # (the ascent hook acts on the Parameter only, not on a value passed in its place).
    for name, p in loss.named_parameters():
        q = p.detach().clone().double().add_(0.3).requires_grad_(True)
        assert torch.autograd.gradcheck(
            lambda v, name=name: torch.func.functional_call(loss, {name: v}, (s, y)),
            (q,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("make", [lambda: AUCMLoss(), lambda: PrecisionAtRecallLoss(0.7),
                                  lambda: RecallAtPrecisionLoss(0.6)])
def test_multiplier_gradient_is_negated_and_projected(make) -> None:  # type: ignore[no-untyped-def]
    loss = make()
    lam = loss.alpha if isinstance(loss, AUCMLoss) else loss.multiplier
    s, y = _batch(2, n=30)
    name = "alpha" if isinstance(loss, AUCMLoss) else "multiplier"
    v = lam.detach().clone().requires_grad_(True)
    (true_grad,) = torch.autograd.grad(
        torch.func.functional_call(loss, {name: v}, (s, y)), v)
    loss(s, y).backward()
    assert float(lam.grad) == pytest.approx(-float(true_grad))
    with torch.no_grad():
        lam.fill_(-2.0)
    loss(s, y)
    assert float(lam.detach()) == 0.0


def test_gradcheck_lovasz_softmax() -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(20, 4, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 4, (20,), generator=g)
    loss = LovaszSoftmaxLoss(temperature=0.8)
    assert torch.autograd.gradcheck(lambda v: loss(v, t), (logits,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("make", "name", "params"), [
    (lambda t: SoftFBeta(temperature=t), "f1", {"threshold": 0.5}),
    (lambda t: SoftFBeta(beta=2.0, temperature=t), "fbeta", {"threshold": 0.5, "beta": 2.0}),
    (lambda t: SoftMCC(temperature=t), "mcc", {"threshold": 0.5}),
    (lambda t: SoftExpectedCost(COSTS, temperature=t), "expected_cost",
     {"threshold": 0.5, **COSTS}),
    (lambda t: PairwiseAUCLoss("sigmoid", temperature=t), "roc_auc", {}),
    (lambda t: SmoothAPLoss(temperature=t), "average_precision", {}),
], ids=["f1", "f2", "mcc", "cost", "auc", "ap"])
def test_soft_metric_tends_to_exact(make, name, params, seed) -> None:  # type: ignore[no-untyped-def]
    s, y = _batch(seed, n=200)
    exact = _exact(name, s, y, **params)
    gaps = [abs(float(make(t).soft_metric(s, y)) - exact) for t in (1.0, 0.1, 1e-2, 1e-4)]
    assert gaps[-1] < 1e-3, gaps
    assert gaps[0] > gaps[-1]


def test_pairwise_auc_counts_ties_half() -> None:
    s = torch.tensor([0.0, 0.0, 1.0, -1.0], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    soft = float(PairwiseAUCLoss("sigmoid", temperature=1e-6).soft_metric(s, y))
    assert soft == pytest.approx(_exact("roc_auc", s, y), abs=1e-9)


def test_pairwise_auc_samples_pairs_unbiasedly() -> None:
    s, y = _batch(3, n=300)
    full = float(PairwiseAUCLoss("sigmoid").soft_metric(s, y))
    g = torch.Generator().manual_seed(0)
    sampled = PairwiseAUCLoss("sigmoid", max_pairs=5000, generator=g)
    est = float(np.mean([float(sampled.soft_metric(s, y)) for _ in range(20)]))
    assert abs(est - full) < 0.005
    assert abs(float(sampled.soft_metric(s, y)) - full) > 0  # it did sample


@pytest.mark.parametrize("seed", [0, 1])
def test_lagrangian_rates_tend_to_exact_at_the_chosen_threshold(seed: int) -> None:
    # At the threshold mlscope chooses for precision at recall >= 0.7 (moved half-way to the
    # next lower score, so no logit sits on it), the relaxed precision tends to the metric.
    s, y = _batch(seed, n=200)
    p = torch.sigmoid(s).numpy()
    spec = get_metric("precision_at_recall")
    stats = binary_stats(y.numpy(), p)
    t = spec.chooser(stats, recall=0.7)
    below = np.max(p[p < t])
    logit_t = float(np.log(t / (1 - t)) + np.log(below / (1 - below))) / 2
    exact = float(spec.fn(stats, recall=0.7))
    gaps = []
    for temp in (1.0, 1e-2, 1e-4):
        prec, rec = PrecisionAtRecallLoss(0.7, temperature=temp, threshold=logit_t).soft_rates(
            s, y)
        gaps.append(abs(float(prec) - exact))
    assert gaps[-1] < 1e-3, gaps
    assert gaps[0] > gaps[-1], gaps
    assert float(rec) >= 0.7 - 1e-3


def test_lovasz_hinge_is_the_jaccard_loss_at_the_vertices() -> None:
    g = torch.Generator().manual_seed(4)
    y = (torch.rand(50, generator=g) < 0.4).double()
    wrong = torch.rand(50, generator=g) < 0.3
    sign = 2 * y - 1
    # Hinge errors of exactly 0 (right side, margin 1) or 1 (logit 0, wrong side).
    s = torch.where(wrong, torch.zeros_like(y), sign)
    pred = torch.where(wrong, 1 - y, y)
    inter = float((pred * y).sum())
    union = float(((pred + y) > 0).sum())
    assert float(LovaszHingeLoss()(s, y)) == pytest.approx(1 - inter / union, abs=1e-12)


def _mean_iou(pred: torch.Tensor, t: torch.Tensor, k: int) -> float:
    ious = []
    for c in range(k):
        if not bool((t == c).any()):
            continue
        inter = int(((pred == c) & (t == c)).sum())
        union = int(((pred == c) | (t == c)).sum())
        ious.append(inter / union)
    return float(np.mean(ious))


def test_lovasz_softmax_tends_to_one_minus_mean_iou() -> None:
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(60, 3, generator=g, dtype=torch.float64)
    t = torch.randint(0, 3, (60,), generator=g)
    exact = 1 - _mean_iou(logits.argmax(1), t, 3)
    gaps = [abs(float(LovaszSoftmaxLoss(temperature=x)(logits, t)) - exact)
            for x in (1.0, 0.1, 1e-3)]
    assert gaps[-1] < 1e-3, gaps
    assert gaps[0] > gaps[-1], gaps


def test_cost_weighted_ce_threshold_is_the_cost_optimal_one() -> None:
    # Fit a constant logit to a share q of positives: the weighted CE's minimiser predicts
    # positive (sigmoid >= 0.5) exactly when q >= the cost threshold.
    loss = CostWeightedCrossEntropy(COSTS)
    t_star = loss.cost_threshold
    assert t_star == pytest.approx(1 / (1 + 8))
    for q, expect in ((t_star - 0.02, False), (t_star + 0.02, True)):
        y = torch.zeros(1000, dtype=torch.float64)
        y[: round(q * 1000)] = 1
        b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([b], max_iter=100)

        def closure(b: torch.Tensor = b, y: torch.Tensor = y,
                    opt: torch.optim.Optimizer = opt) -> torch.Tensor:
            opt.zero_grad()
            out = loss(b.expand(1000), y)
            out.backward()
            return out
        opt.step(closure)
        assert (float(b.detach()) >= 0) is expect


def test_aucm_alpha_ascends_to_its_closed_form() -> None:
    s, y = _batch(6, n=100)
    loss = AUCMLoss(margin=1.0)
    opt = torch.optim.SGD(loss.parameters(), lr=5.0)
    for _ in range(400):
        opt.zero_grad()
        loss(s, y).backward()
        opt.step()
    h = torch.sigmoid(s)
    gap = float(h[y == 1].mean() - h[y == 0].mean())
    assert float(loss.alpha.detach()) == pytest.approx(max(0.0, 1.0 - gap), abs=1e-3)
    assert float(loss.a.detach()) == pytest.approx(float(h[y == 1].mean()), abs=1e-3)
    assert float(loss.b.detach()) == pytest.approx(float(h[y == 0].mean()), abs=1e-3)


@pytest.mark.parametrize("make", [lambda: SoftFBeta(), lambda: SoftMCC(), SmoothAPLoss,
                                  LovaszHingeLoss, lambda: PrecisionAtRecallLoss(0.5),
                                  lambda: PairwiseAUCLoss(), lambda: AUCMLoss(),
                                  lambda: CostWeightedCrossEntropy(COSTS)])
@pytest.mark.parametrize("labels", [[0.0, 1.0, 2.0], [-1.0, 1.0, 1.0], [0.0, 0.5, 1.0]])
def test_labels_outside_0_1_are_refused_with_the_fix(make, labels) -> None:  # type: ignore[no-untyped-def]
    s = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)
    with pytest.raises(InputError, match=r"must be 0 or 1.*\nfix: map the positive class"):
        make()(s, torch.tensor(labels, dtype=torch.float64))


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(InputError, match="temperature"):
        SoftFBeta(temperature=0.0)
    with pytest.raises(InputError, match=r"recall.*\(0, 1\)"):
        PrecisionAtRecallLoss(recall=65)
    with pytest.raises(InputError, match="nothing for a model to learn"):
        CostWeightedCrossEntropy({"tp": 0, "fp": 1, "fn": -1, "tn": 0})
    with pytest.raises(InputError, match="both classes"):
        SmoothAPLoss()(torch.zeros(3), torch.zeros(3))
    with pytest.raises(InputError, match="shape"):
        SoftMCC()(torch.zeros(4), torch.zeros(3))
    with pytest.raises(InputError, match=r"0\.\.2"):
        LovaszSoftmaxLoss()(torch.zeros(2, 3), torch.tensor([0, 3]))
