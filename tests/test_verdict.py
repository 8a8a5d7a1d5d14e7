"""The launch verdict (docs/deciding.md, "The verdict"): its ladder on seeded data with a
known truth, ``must_beat`` margins on the paired interval, the rows an undecided verdict
needs, and that the verdict never contradicts the exit code, the selection or the check.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import mlscope
from mlscope.cli import main
from mlscope.compare.launch import LaunchInputs, Lead, launch_verdict, rows_to_decide
from mlscope.errors import InputError
from mlscope.result import CheckResult, Difference, EvaluationResult, RequirementCheck

RULE = '''
import numpy as np


def by_x(rows):
    return 1 / (1 + np.exp(-rows["x"].to_numpy()))
'''


def frame(n: int = 4000, seed: int = 0, **noise: float) -> pd.DataFrame:
    """A binary table whose truth is known: ``y`` from a latent signal, each model the
    signal plus its own noise (less noise, a better model); ``x`` the feature a rule
    baseline reads (the signal plus noise ``rule``, on the models' scale)."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * signal - 1.0)))).astype(int)
    df = pd.DataFrame({"id": np.arange(n), "y": y,
                       "split": rng.choice(["train", "validation", "test"], size=n,
                                            p=[0.2, 0.4, 0.4]),
                       "x": 1.5 * signal + rng.normal(scale=noise.pop("rule", 0.6), size=n)})
    for name, scale in noise.items():
        df[name] = 1 / (1 + np.exp(-(1.5 * signal - 1.0 + rng.normal(scale=scale, size=n))))
    return df


def charter(models: list[str], **over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "project": "verdict", "task": "binary", "seed": 3,
        "data": {"table": "eval.parquet", "id": "id", "label": "y", "split": "split",
                 "models": {m: m for m in models}},
        "splits": {"selection": "validation", "report": "test", "train": "train"},
        "metrics": ["roc_auc", "brier"],
        "selection": {"rule": "satisficing", "optimize": "roc_auc"},
        "requirements": {"roc_auc": ">= 0.6"},
        "intervals": {"resamples": 200},
    }
    c.update(over)
    return c


def run(tmp: Path, c: dict[str, Any], df: pd.DataFrame, **kw: Any) -> EvaluationResult:
    df.to_parquet(tmp / "eval.parquet", index=False)
    (tmp / "rules.py").write_text(RULE, encoding="utf-8")
    p = tmp / "mlscope.yaml"
    p.write_text(yaml.safe_dump(c, sort_keys=False), encoding="utf-8")
    res = mlscope.evaluate(p, **kw)
    assert res.verdict is not None
    assert_coherent(res)
    return res


def assert_coherent(res: EvaluationResult) -> None:
    """The verdict agrees with the exit code, the selection and the requirements."""
    v = res.verdict
    assert v is not None
    assert v.exit_code == res.exit_code
    meets = {m: all(r.met for r in v.requirements if r.model == m)
             for m in {r.model for r in v.requirements}}
    if v.kind == "ship":
        assert v.model == res.winner
        assert meets[v.model]
        assert res.exit_code == 0
        assert res.status == "requirements_met"
    if v.kind in ("keep_production", "ship_rule"):
        assert v.model is not None
        assert meets.get(v.model, not v.requirements)
        assert res.exit_code == 0
    if v.kind == "keep_production":
        assert v.model == res.charter["blessed"]
    if v.kind == "ship_rule":
        assert v.model in {m.name for m in res.models if m.kind == "baseline"}
    if v.kind == "not_good_enough":
        assert res.exit_code == 1
    # result.requirements stay the winner's.
    assert all(r.model == res.winner for r in res.requirements)


RULE_BASELINE = {"rule": {"kind": "rule", "function": "rules:by_x"}}


def test_rule_good_enough_ships_the_rule(tmp_path: Path) -> None:
    # The candidate is the rule's equal: the same signal, the same amount of noise.
    res = run(tmp_path, charter(["cand", "weak"], baselines=RULE_BASELINE),
              frame(cand=0.6, weak=2.5))
    v = res.verdict
    assert v is not None
    assert v.kind == "ship_rule"
    assert v.model == "rule"
    assert res.winner == "cand"  # the selection is unchanged; the verdict says more
    lead = v.reasons[0].figures
    assert lead["lower"] < 0 < lead["upper"]
    assert v.headline.startswith("Ship the rule baseline rule")
    # Requirements are checked on every candidate and baseline.
    assert {r.model for r in v.requirements} == {"cand", "weak", "rule"}


def test_production_model_is_kept(tmp_path: Path) -> None:
    res = run(tmp_path, charter(["prod", "cand"], blessed="prod"), frame(prod=0.8, cand=0.75))
    v = res.verdict
    assert v is not None
    assert v.kind == "keep_production"
    assert v.model == "prod"
    assert "Keep prod in production" in v.headline


def test_nothing_good_enough_names_the_nearest_requirement(tmp_path: Path) -> None:
    res = run(tmp_path, charter(["cand", "weak"], requirements={"roc_auc": ">= 0.99"}),
              frame(cand=0.6, weak=2.5), diagnose=True)
    v = res.verdict
    assert v is not None
    assert v.kind == "not_good_enough"
    assert v.model == "cand"
    assert v.nearest is not None
    assert v.nearest.metric == "roc_auc"
    auc = res.value("roc_auc", "cand", split="test").value
    assert auc is not None
    assert v.nearest.margin == pytest.approx(auc - 0.99)
    assert f"by {0.99 - auc:.3f}" in v.headline
    assert res.diagnosis is not None
    assert res.diagnosis.steps
    assert v.next_step == res.diagnosis.steps[0].title
    assert any("next step (diagnosis)" in r.text for r in v.reasons)


def test_tiny_sample_is_undecided_with_the_rows_needed(tmp_path: Path) -> None:
    res = run(tmp_path, charter(["a", "b"]), frame(n=240, seed=4, a=0.6, b=0.7))
    v = res.verdict
    assert v is not None
    assert v.kind == "undecided"
    assert v.model == res.winner
    f = v.reasons[0].figures
    assert f["lower"] <= 0 <= f["upper"]
    n = res.data["rows_per_split"]["test"]
    expect = n * (((f["upper"] - f["lower"]) / 2 / abs(f["lead"])) ** 2 - 1)
    assert v.rows_needed == f["rows_needed"]
    assert v.rows_needed == pytest.approx(expect, rel=0.1)
    assert f"about {v.rows_needed:,} more labelled rows" in v.headline
    # The lead names the split it is read on (the rule selected on another one) and which
    # sign favours whom.
    assert f"on {v.metric} (test) is " in v.reasons[0].text
    assert f"(positive favours {v.model})" in v.reasons[0].text
    # Undecided keeps the requirement status's exit code.
    assert res.exit_code == (0 if res.status == "requirements_met" else 1)


def test_clear_winner_ships(tmp_path: Path) -> None:
    res = run(tmp_path, charter(["best", "worse"], baselines={"prior": {"kind": "prior"}}),
              frame(best=0.3, worse=2.5))
    v = res.verdict
    assert v is not None
    assert v.kind == "ship"
    assert v.model == "best"
    assert res.exit_code == 0
    assert any("runner-up worse" in r.text for r in v.reasons)


@pytest.mark.parametrize(("margin", "kind"), [(0.01, "ship"), (0.5, "ship_rule")])
def test_must_beat_margin_is_decided_on_the_interval(tmp_path: Path, margin: float,
                                                     kind: str) -> None:
    c = charter(["cand"], baselines=RULE_BASELINE)
    c["selection"]["must_beat"] = {"rule": margin}
    res = run(tmp_path, c, frame(rule=1.5, cand=0.3))
    v = res.verdict
    assert v is not None
    assert v.kind == kind
    assert v.margins == {"rule": margin}
    d = next(d for d in res.differences if d.split == "test" and d.slice == "overall"
             and d.metric == "roc_auc" and d.model == "rule" and d.reference == "cand")
    assert d.upper is not None
    assert (-d.upper > margin) == (kind == "ship")


def test_must_beat_a_baseline_that_misses_the_requirements(tmp_path: Path) -> None:
    # The rule misses the requirement, and the candidate cannot beat it by the margin.
    c = charter(["cand"], baselines=RULE_BASELINE, requirements={"roc_auc": ">= 0.75"})
    c["selection"]["must_beat"] = {"rule": 0.5}
    res = run(tmp_path, c, frame(rule=1.5, cand=0.3))
    v = res.verdict
    assert v is not None
    assert v.kind == "not_good_enough"
    assert v.model == "cand"
    assert "does not beat rule" in v.headline


def test_must_beat_mapping_names_an_unknown_baseline_by_key(tmp_path: Path) -> None:
    c = charter(["cand"], baselines=RULE_BASELINE)
    c["selection"]["must_beat"] = {"rulez": 0.01}
    with pytest.raises(InputError, match="rulez"):
        run(tmp_path, c, frame(cand=0.3))


def test_run_and_check_exit_codes_agree_with_the_verdict(tmp_path: Path) -> None:
    c = charter(["prod", "cand"], blessed="prod", baselines=RULE_BASELINE,
                gates={"roc_auc": {"regress": 0.01}})
    frame(prod=2.0, cand=0.3).to_parquet(tmp_path / "eval.parquet", index=False)
    (tmp_path / "rules.py").write_text(RULE, encoding="utf-8")
    p = tmp_path / "mlscope.yaml"
    p.write_text(yaml.safe_dump(c, sort_keys=False), encoding="utf-8")
    for cmd in ("run", "check"):
        out = tmp_path / cmd
        r = CliRunner().invoke(main, [cmd, str(p), "--out", str(out), "-q"])
        res = EvaluationResult.from_json(out / "result.json")
        assert res.verdict is not None
        assert res.verdict.kind == "ship"
        assert r.exit_code == res.exit_code == 0, r.output
        if cmd == "check":
            assert res.check is not None
            assert res.check.passed


def test_old_results_load_without_a_verdict(tmp_path: Path) -> None:
    res = run(tmp_path, charter(["best", "worse"]), frame(n=1000, best=0.3, worse=2.5))
    data = res.to_dict()
    back = EvaluationResult.from_dict(data)
    assert back.verdict == res.verdict
    del data["verdict"]
    assert EvaluationResult.from_dict(data).verdict is None


# -- the ladder on constructed inputs --------------------------------------------------
def _req(model: str, met: bool, value: float = 0.7) -> RequirementCheck:
    return RequirementCheck(metric="auc", bound=">= 0.7", split="test", model=model,
                            value=value, lower=None, upper=None, met=met,
                            margin=value - 0.7)


def _diff(model: str, ref: str, value: float, half: float) -> Difference:
    return Difference(split="test", slice="overall", metric="auc", model=model,
                      reference=ref, value=value, lower=value - half, upper=value + half)


def test_rows_to_decide_follows_one_over_root_n() -> None:
    lead = Lead(a="a", b="b", value=0.01, lower=-0.01, upper=0.03)
    # Half-width 0.02 must shrink to 0.01: four times the rows, three times more.
    assert rows_to_decide(1000, lead) == 3000
    assert rows_to_decide(1000, Lead("a", "b", 0.0, -0.01, 0.01)) is None
    assert rows_to_decide(None, lead) is None


def test_the_verdict_never_contradicts_the_selection_or_the_check() -> None:
    """Random inputs: whatever the ladder says is consistent with what it was given."""
    rng = random.Random(11)
    cands, bases = ["a", "b", "c"], {"rule": "rule", "prior": "trivial"}
    for _ in range(2000):
        models = [*cands, *bases]
        meets = {m: rng.random() < 0.6 for m in models}
        winner = rng.choice([*cands, None])
        blessed = rng.choice([None, "c"])
        diffs = [_diff(m, winner, rng.uniform(-0.05, 0.05), rng.uniform(0.0, 0.05))
                 for m in models if winner is not None and m != winner]
        check = None
        if winner is not None and blessed is not None and rng.random() < 0.5:
            passed = rng.random() < 0.5
            check = CheckResult(candidate=winner, blessed=blessed, blessed_source="",
                                split="test", passed=passed, gates=[], requirements=[],
                                failures=[] if passed else ["gate"], exit_code=0 if passed
                                else 1, keep=winner == blessed)
        trivial = {m: Lead(a=m, b="prior", value=(c := rng.uniform(-0.05, 0.05)),
                           lower=c - (h := rng.uniform(0.0, 0.05)), upper=c + h)
                   for m in models if m != "prior" and rng.random() < 0.8}
        inp = LaunchInputs(
            trivial=trivial,
            metric="auc", direction=rng.choice(["higher", "lower"]), split="test",
            rows=1000, winner=winner, candidates=cands, baselines=dict(bases),
            requirements={m: [_req(m, meets[m])] for m in models},
            values={m: rng.random() for m in models}, differences=diffs,
            margins=rng.choice([{}, {"rule": 0.01}]), blessed=blessed,
            runner_up=rng.choice([m for m in cands if m != winner]), check=check,
            status_exit=0 if winner is not None and meets[winner] else 1)
        v = launch_verdict(inp)
        if v.kind == "ship":
            assert v.model == winner
            assert meets[winner]
            assert v.exit_code == 0
            assert check is None or check.passed or check.keep
            # Never shipped over a runner-up that meets every requirement and leads beyond
            # its interval on the verdict's split; no reason claims a negative lead "beats".
            r = inp.runner_up
            d = next((x for x in diffs if x.model == r), None)
            if r is not None and meets[r] and d is not None:
                sign = 1.0 if inp.direction == "higher" else -1.0
                # r − winner, oriented (positive: r better), its interval's lower end.
                assert not min(sign * d.lower, sign * d.upper) > 0
            bad = [x.text for x in v.reasons if " beats " in x.text and " by −" in x.text]
            assert not bad, bad
            # The headline names only models it was shown to beat.
            assert "beats the alternatives" not in v.headline
        elif v.kind == "keep_production":
            assert v.model == blessed
            assert meets[blessed]
            assert v.exit_code == 0
        elif v.kind == "ship_rule":
            assert v.model in bases
            assert meets[v.model]
            assert v.exit_code == 0
            # Never a constant, nor a rule no better than one that meets every requirement.
            assert bases[v.model] != "trivial"
            if meets["prior"] and v.model in trivial:
                assert trivial[v.model].beats(0.0)
        elif v.kind == "not_good_enough":
            assert v.exit_code == 1
        else:
            assert v.kind == "undecided"
            assert v.exit_code == inp.status_exit
        if not any(meets.values()):
            assert v.kind == "not_good_enough"
        assert v.headline
        assert "\n" not in v.headline
        assert all(math.isfinite(x) for r in v.reasons for x in r.figures.values()
                   if isinstance(x, float))


def _coin_flip(rule_lo: float, w_lo: float, *, prior_meets: bool = True,
               w_over_rule: float = -0.004) -> LaunchInputs:
    """The Smarket charter: no model beats the trivial baseline `prior` by much; ``rule_lo``
    and ``w_lo`` are the lower ends of the rule's and the selected model's leads over it
    (ROC AUC, test). Nothing beats the rule beyond its interval."""
    models = ["lag12", "gbm", "reversal", "prior"]
    reqs = {m: [] for m in models} if prior_meets else {
        m: [_req(m, m != "prior", 0.75 if m != "prior" else 0.5)] for m in models}
    return LaunchInputs(
        metric="roc_auc", direction="higher", split="test", rows=252, winner="lag12",
        candidates=["lag12", "gbm"], baselines={"reversal": "rule", "prior": "trivial"},
        requirements=reqs,
        values={"lag12": 0.559, "gbm": 0.517, "reversal": 0.564, "prior": 0.5},
        differences=[
            Difference(split="test", slice="overall", metric="roc_auc", model="lag12",
                       reference="reversal", value=w_over_rule, lower=-0.06, upper=0.06),
            Difference(split="test", slice="overall", metric="roc_auc", model="lag12",
                       reference="prior", value=0.059, lower=w_lo, upper=0.175),
            Difference(split="test", slice="overall", metric="roc_auc", model="gbm",
                       reference="lag12", value=-0.043, lower=-0.131, upper=0.046)],
        margins={}, blessed=None, runner_up="gbm", check=None, status_exit=0,
        trivial={"reversal": Lead("reversal", "prior", 0.064, rule_lo, 0.129),
                 "lag12": Lead("lag12", "prior", 0.059, w_lo, 0.175),
                 "gbm": Lead("gbm", "prior", 0.017, -0.058, 0.089)})


def test_a_rule_no_better_than_a_coin_flip_is_not_shipped() -> None:
    """Smarket (ISLP): stock-market direction, ROC AUC near 0.5 for every model. With no
    requirements the verdict read "Ship the rule baseline reversal: no candidate beats it
    beyond its interval", though the rule did not beat the constant `prior` either."""
    v = launch_verdict(_coin_flip(rule_lo=-0.000004, w_lo=-0.057))
    assert v.kind == "not_good_enough"
    assert v.headline == ("Not good enough: nothing beats the trivial baseline prior beyond "
                          "its interval (the charter sets no requirements)")
    assert v.model == "lag12"
    assert v.nearest is None
    assert v.exit_code == 1
    assert [r.text for r in v.reasons] == [
        "lag12's lead over the trivial baseline prior on roc_auc (test) is +0.059 "
        "[−0.057, +0.175]: not beyond its paired interval",
        "reversal's lead over the trivial baseline prior on roc_auc (test) is +0.064 "
        "[−0.0000040, +0.129]: not beyond its paired interval"]
    # The selected model beats the constant, the rule does not, and the two are not told
    # apart: undecided between them, with the rows that would decide it.
    v = launch_verdict(_coin_flip(rule_lo=-0.001, w_lo=0.002, w_over_rule=0.01))
    assert v.kind == "undecided"
    assert v.headline == ("Undecided between lag12 and the rule baseline reversal: lag12 "
                          "beats the trivial baseline prior beyond its interval and reversal "
                          "does not, but lag12 does not beat reversal beyond its interval")
    assert v.rows_needed is not None
    assert v.rows_needed > 0
    # A rule that beats the constant beyond its interval is shipped, as before.
    v = launch_verdict(_coin_flip(rule_lo=0.001, w_lo=-0.057))
    assert v.kind == "ship_rule"
    assert v.model == "reversal"
    # Requirements the constant misses are the bar instead: the rule meets them and ships.
    v = launch_verdict(_coin_flip(rule_lo=-0.01, w_lo=-0.057, prior_meets=False))
    assert v.kind == "ship_rule"
    assert v.model == "reversal"


def test_the_trivial_baseline_itself_is_never_shipped() -> None:
    """Only the constant `prior` meets the requirements: shipping a constant is no launch."""
    inp = _coin_flip(rule_lo=0.01, w_lo=0.01, prior_meets=False)
    inp.requirements = {m: [_req(m, m == "prior", 0.75 if m == "prior" else 0.5)]
                        for m in inp.requirements}
    v = launch_verdict(inp)
    assert v.kind == "not_good_enough"
    assert v.headline == "Not good enough: nothing beats the trivial baseline prior beyond " \
                         "its interval"
    assert v.exit_code == 1
    assert v.model == "lag12"
    assert v.nearest is not None
    assert v.nearest.model == "lag12"
    assert [r.text for r in v.reasons[:2]] == [
        "the trivial baseline prior, a constant prediction, meets every requirement too: "
        "meeting them shows no skill", "the selected model lag12 misses a requirement"]


# -- the renderers lead with it ----------------------------------------------------------
@pytest.fixture(scope="module")
def ruled(tmp_path_factory: pytest.TempPathFactory) -> EvaluationResult:
    tmp = tmp_path_factory.mktemp("ruled")
    return run(tmp, charter(["cand", "weak"], baselines=RULE_BASELINE),
               frame(cand=0.6, weak=2.5))


def test_terminal_summary_starts_with_the_verdict(ruled: EvaluationResult) -> None:
    from io import StringIO

    from rich.console import Console

    from mlscope.report.terminal import render_terminal

    out = StringIO()
    render_terminal(ruled, Console(file=out, width=80, no_color=True))
    text = out.getvalue()
    assert text.startswith("Verdict: Ship the rule baseline rule")
    assert "the rule's choice; the verdict above says what to ship" in text
    assert "exit code 0: the verdict recommends rule" in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    assert "2 models + 1 baseline, 2 metrics" in " ".join(text.split())  # not "1 baselines"


def test_html_report_opens_with_should_we_ship(ruled: EvaluationResult) -> None:
    from mlscope.report.html import render_html

    html = render_html(ruled)
    assert html.index('id="ship"') < html.index('id="decision"')
    assert 'data-verdict="ship_rule"' in html
    assert "Requirements of every candidate and baseline" in html
    assert 'id="ship-costs"' not in html  # optional sections render only when present
    assert "+ <b>1</b> baseline<" in html
    assert "<b>2</b> metrics<" in html


def test_optional_sections_render_when_present(ruled: EvaluationResult) -> None:
    from mlscope.report.panels_verdict import launch_html, launch_text

    assert ruled.verdict is not None
    ruled.verdict.sections = {"guarantees": ["roc_auc ≥ 0.6 with 95% confidence"],
                              "costs": ["expected cost 12.3 per 1,000 rows"]}
    try:
        html = str(launch_html(ruled))
        assert html.index('id="ship-costs"') < html.index('id="ship-guarantees"')
        assert "Scope" not in html
        assert "  Guarantees:" in launch_text(ruled)
    finally:
        ruled.verdict.sections = {}


def test_after_check_the_ship_panel_points_to_the_check_without_a_place(
        ruled: EvaluationResult) -> None:
    """After `mlscope check` the ship panel says the check's verdict decides the exit code,
    without "above": the report shows the check's box above it, the dashboard's overview
    below it (found on ISLP's OJ, where the dashboard pointed up at nothing)."""
    import dataclasses

    from mlscope.report.panels_verdict import launch_html
    from mlscope.result import CheckResult

    check = CheckResult(candidate="cand", blessed="weak", blessed_source="charter", split="test",
                        passed=True, gates=[], requirements=[], failures=[], exit_code=0)
    html = str(launch_html(dataclasses.replace(ruled, command="check", check=check)))
    assert "mlscope check's verdict decides the exit code." in html
    assert "above" not in html
    assert "Exit code" not in html


def test_dashboard_run_page_opens_with_the_verdict(tmp_path: Path) -> None:
    from mlscope.store import Store
    from tests.test_server import fetch, running

    c = charter(["cand", "weak"], baselines=RULE_BASELINE)
    frame(cand=0.6, weak=2.5).to_parquet(tmp_path / "eval.parquet", index=False)
    (tmp_path / "rules.py").write_text(RULE, encoding="utf-8")
    p = tmp_path / "mlscope.yaml"
    p.write_text(yaml.safe_dump(c, sort_keys=False), encoding="utf-8")
    db = tmp_path / "store.sqlite"
    r = CliRunner().invoke(main, ["run", str(p), "--out", str(tmp_path / "out"), "-q",
                                  "--store", str(db)])
    assert r.exit_code == 0, r.output
    with Store.open(db, create=False) as store, running(store) as base:
        page = fetch(f"{base}/runs/1")
        assert page.status == 200, page.body
        assert 'data-verdict="ship_rule"' in page.body
        assert page.body.index('id="ship"') < page.body.index('id="decision"')


def _launch(meets: dict[str, bool], lead_r: float, half: float = 0.01,
            runner_up: str = "b") -> LaunchInputs:
    """Candidates a (selected) and b, a rule baseline; ``lead_r`` is b − a (higher is
    better) on the test split."""
    models = ["a", "b", "rule"]
    diffs = [_diff("b", "a", lead_r, half), _diff("rule", "a", -0.2, 0.01)]
    return LaunchInputs(
        metric="auc", direction="higher", split="test", rows=1000, winner="a",
        candidates=["a", "b"], baselines={"rule": "rule"},
        requirements={m: [_req(m, meets[m], 0.8 if meets[m] else 0.6)] for m in models},
        values={"a": 0.8, "b": 0.8 + lead_r, "rule": 0.6}, differences=diffs, margins={},
        blessed=None, runner_up=runner_up, check=None, status_exit=0)


def test_a_runner_up_better_beyond_its_interval_is_not_shipped_over() -> None:
    """The rule picks a on validation; on test b, which meets every requirement too, leads
    beyond its interval. The verdict shipped a, with the reason "a beats the runner-up b
    by −0.050 [−0.060, −0.040]"."""
    v = launch_verdict(_launch({"a": True, "b": True, "rule": False}, lead_r=0.05))
    assert v.kind == "undecided"
    assert v.model == "a"
    assert v.headline == ("Undecided between a and b: the rule picks a, but b is better on "
                          "auc (test) beyond its interval")
    assert v.reasons[0].text.startswith("b's lead over the selected a on auc (test) is "
                                        "+0.0500 [+0.0400, +0.0600]")
    assert v.exit_code == 0  # undecided keeps the requirement status's code
    # A lead whose interval includes 0 stays undecided with the rows that would decide it;
    # a clear lead for a ships, naming b as beaten.
    assert launch_verdict(_launch({"a": True, "b": True, "rule": False}, 0.005)).rows_needed
    v = launch_verdict(_launch({"a": True, "b": True, "rule": False}, lead_r=-0.05))
    assert v.kind == "ship"
    assert v.headline == "Ship a: it meets every requirement and beats every other model " \
                         "that meets them beyond its interval"


def test_ship_headline_says_why_when_no_other_model_meets_the_requirements() -> None:
    """The bike-share charter: poisson, the runner-up, misses a slice requirement, and the
    verdict said gbm "beats the alternatives beyond their intervals" while poisson's
    expected cost on test was lower (no interval clear of 0)."""
    v = launch_verdict(_launch({"a": True, "b": False, "rule": False}, lead_r=0.01))
    assert v.kind == "ship"
    assert v.headline == "Ship a: it is the only model that meets every requirement"
    assert any(r.text == "the runner-up b misses auc >= 0.7 (0.600)" for r in v.reasons)
    # The rule baseline meets them too and is beaten: named, and b is not.
    v = launch_verdict(_launch({"a": True, "b": False, "rule": True}, lead_r=0.01))
    assert v.kind == "ship"
    assert v.headline == ("Ship a: it meets every requirement and beats every other model "
                          "that meets them beyond its interval")


def test_a_requirement_decided_on_its_bound_is_quoted_on_its_bound() -> None:
    """"nearest: logit's precision 0.723 misses >= 0.65" read as a contradiction: 0.723
    clears 0.65; the bound 0.597 is what missed."""
    miss = RequirementCheck(metric="precision", bound=">= 0.65", split="test", model="a",
                            value=0.723, lower=0.588, upper=0.854, met=False, margin=-0.053,
                            decided_on="bound", certified=0.597)
    inp = LaunchInputs(
        metric="auc", direction="higher", split="test", rows=1000, winner="a",
        candidates=["a"], baselines={}, requirements={"a": [miss]}, values={"a": 0.8},
        differences=[], margins={}, blessed=None, runner_up=None, check=None,
        status_exit=1)
    v = launch_verdict(inp)
    assert v.kind == "not_good_enough"
    assert v.headline.endswith("nearest: a's precision bound 0.597 (point 0.723) misses "
                               ">= 0.65 by 0.0530")
    assert v.reasons[1].text == ("nearest: a, precision bound 0.597 (point 0.723; needs "
                                 ">= 0.65, short by 0.0530)")
