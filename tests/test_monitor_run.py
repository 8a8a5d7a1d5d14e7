"""``mlscope monitor`` end to end on seeded streams with planted problems: quiet on clean
windows, each planted problem caught in its window, the estimator's back-test, and the
exit codes (0 no alert, 1 alert, 2 bad input with the fix)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mlscope.charter import load_charter
from mlscope.cli import main
from mlscope.monitor import MonitorResult, monitor
from tests.monitor_data import caravan, caravan_project, population, stamp, write_project


def _run(path: Path, windows: list[pd.DataFrame], labels: bool = True) -> MonitorResult:
    return monitor(load_charter(path), path, stamp(windows, labels=labels))


def _share_alerting(res: MonitorResult) -> float:
    return len(res.alerting) / len(res.windows)


def test_clean_windows_rarely_alert(tmp_path: Path) -> None:
    rng = np.random.default_rng(10)
    path = write_project(tmp_path, population(3000, rng))
    res = _run(path, [population(300, rng) for _ in range(60)])
    # 5 features × (overall + 4 regions), the score, rates: ~37 tests per window, each
    # window's family held at q = 5% by Benjamini–Hochberg.
    assert _share_alerting(res) <= 0.05, [(w.index, [c.reason for c in w.alerts])
                                          for w in res.alerting]
    assert sum(w.status == "untrusted" for w in res.windows) <= 3
    # Per slice: the first metric's estimate in each region with ≥ 30 rows, whose
    # interval holds the realised value about as often as the nominal 95%.
    inside = [e.inside for w in res.windows for e in w.performance[0].slices.values()]
    assert {"region=north", "region=south"} <= set(res.windows[0].performance[0].slices)
    assert len(inside) >= 150
    assert np.mean(inside) >= 0.9


def test_planted_problems_are_caught_in_their_windows(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    path = write_project(tmp_path, population(3000, rng))
    clean = [population(300, rng) for _ in range(5)]
    shifted = [population(300, rng, age_shift=8) for _ in range(20)]
    nan, constant = [], []
    for _ in range(10):
        w = population(300, rng)
        w["income"] = np.nan
        nan.append(w)
        w = population(300, rng)
        w["visits"] = 3
        constant.append(w)
    res = _run(path, clean + shifted + nan + constant)
    ws = res.windows
    # Each clean window may alert with probability at most q = 5% (by design, not never).
    assert sum(bool(w.alerts) for w in ws[:5]) <= 1

    def caught(w: object, kind: str, column: str) -> bool:
        return any(c.kind == kind and c.column == column for c in w.alerts)  # type: ignore[attr-defined]

    assert sum(caught(w, "shift", "age") for w in ws[5:25]) >= 19  # ≥ 95%
    assert all(caught(w, "missing", "income") for w in ws[25:35])
    assert all(caught(w, "shift", "visits") for w in ws[35:45])
    # The covariate shift moves the scores too, and the estimate says why to doubt it.
    assert sum(caught(w, "score_shift", "model") for w in ws[5:25]) >= 19
    assert all(w.performance[0].domain_auc is not None for w in ws)
    assert all(not w.performance[0].trustworthy for w in ws[25:35])  # out of support


def test_concept_drift_fails_the_back_test_once_labels_arrive(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    path = write_project(tmp_path, population(3000, rng))
    res = _run(path, [population(300, rng) for _ in range(8)]
               + [population(300, rng, concept=True) for _ in range(6)])
    drift = res.windows[8:]
    assert not any(c.kind == "back_test" for w in res.windows[:8] for c in w.alerts)
    # No label-free check can see P(y | x) move: the inputs and scores look as before
    # (a clean window may still alert with probability at most q = 5%).
    assert sum(bool(w.alerts) for w in res.windows[:8]) <= 1
    assert all(c.kind == "back_test" for w in drift for c in w.alerts)
    assert sum(not w.performance[0].estimates[0].inside for w in drift) >= 5
    assert any(c.kind == "back_test" for w in drift for c in w.alerts)
    assert all(not w.performance[0].trustworthy for w in drift[1:])
    (back,) = res.back_tests
    assert back.failed


def test_label_shift_is_seen_in_outputs_and_bbse(tmp_path: Path) -> None:
    from tests.monitor_data import label_shifted

    rng = np.random.default_rng(13)
    path = write_project(tmp_path, population(3000, rng))
    res = _run(path, [label_shifted(600, 0.6, rng) for _ in range(4)], labels=False)
    for w in res.windows:
        b = w.performance[0].prior_bbse
        assert b.low is not None
        assert b.high is not None
        assert b.low <= 0.6 <= b.high
        assert any(c.kind in ("positive_rate", "score_shift") for c in w.alerts)


def test_count_and_auto_windows(tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    ref = population(3000, rng)
    path = write_project(tmp_path, ref, monitor={"window": {"by": "count", "rows": 250}})
    res = _run(path, [population(500, rng) for _ in range(2)])
    assert [w.rows for w in res.windows] == [250, 250, 250, 250]
    path = write_project(tmp_path, ref, monitor={"window": {"by": "auto", "half_width": 0.04}})
    res = _run(path, [population(500, rng) for _ in range(2)])
    acc = res.models["model"]["reference_accuracy"]
    n = res.window["rows"]
    assert n == max(100, int(np.ceil(1.96**2 * acc * (1 - acc) / 0.04**2)))


def test_a_gap_in_traffic_is_a_volume_alert(tmp_path: Path) -> None:
    rng = np.random.default_rng(15)
    path = write_project(tmp_path, population(3000, rng))
    windows = [population(300, rng) for _ in range(5)]
    windows[3] = windows[3].iloc[:40]
    res = _run(path, windows)
    assert [c.kind for c in res.windows[3].alerts] == ["volume"]


@pytest.mark.slow
@pytest.mark.parametrize("table", ["synthetic", "caravan"])
def test_false_alarms_on_200_clean_windows(tmp_path: Path, table: str) -> None:
    # Measured (docs/monitoring.md): synthetic 3 of 200 windows (1.5%), Caravan 1 of 200
    # (0.5%); the issue measured Evidently at 49% and NannyML at 31% on such streams.
    rng = np.random.default_rng(1)
    if table == "caravan":
        ref, pool = caravan()
        path = caravan_project(tmp_path, ref)
        windows = [pool.sample(300, random_state=int(rng.integers(1 << 30)))
                   for _ in range(200)]
    else:
        path = write_project(tmp_path, population(3000, rng))
        windows = [population(300, rng) for _ in range(200)]
    res = _run(path, windows)
    assert _share_alerting(res) <= 0.05
    (back,) = res.back_tests
    assert back.windows >= 150
    assert not back.failed
    assert back.outside / back.windows <= 0.08  # the interval's nominal miss rate is 5%


# --- the command line --------------------------------------------------------------------


def _cli_project(tmp_path: Path, shifted: bool = False) -> tuple[Path, Path]:
    rng = np.random.default_rng(16)
    path = write_project(tmp_path, population(3000, rng))
    windows = [population(300, rng) for _ in range(3)]
    if shifted:
        windows.append(population(300, rng, age_shift=10))
    log = tmp_path / "log.parquet"
    stamp(windows).to_parquet(log, index=False)
    return path, log


def test_cli_exit_0_without_alert_and_1_with_one(tmp_path: Path) -> None:
    path, log = _cli_project(tmp_path)
    r = CliRunner().invoke(main, ["monitor", str(path), "--log", str(log)])
    assert r.exit_code == 0, r.output
    assert "0 of 3 window(s) raised an alert" in r.output
    written = tmp_path / "mlscope-out" / "monitor" / "monitor.json"
    data = json.loads(written.read_text())
    assert data["schema"] == "mlscope.monitor/1"
    assert data["summary"]["exit_code"] == 0
    (tmp_path / "shifted").mkdir()
    path, log = _cli_project(tmp_path / "shifted", shifted=True)
    r = CliRunner().invoke(main, ["monitor", str(path), "--log", str(log), "--json",
                                  "--out", str(tmp_path / "o")])
    assert r.exit_code == 1, r.output
    data = json.loads(r.output)
    (alerting,) = [w for w in data["windows"] if w["alerts"]]
    assert alerting["index"] == 3
    assert any(a["kind"] == "shift" and a["column"] == "age" for a in alerting["alerts"])
    assert (tmp_path / "o" / "monitor.json").is_file()


def _bad(tmp_path: Path, edit: str) -> tuple[Path, Path]:
    path, log = _cli_project(tmp_path)
    df = pd.read_parquet(log)
    if edit == "missing-column":
        df = df.rename(columns={"income": "incme"})
    elif edit == "bad-time":
        df["served_at"] = df["served_at"].astype(str)
        df.loc[5, "served_at"] = "yesterday noon"
    elif edit == "empty":
        df = df.iloc[:0]
    elif edit == "bad-label":
        df["label"] = df["label"].astype(object)
        df.loc[3, "label"] = 7
    df.to_parquet(log, index=False)
    return path, log


@pytest.mark.parametrize(("edit", "expect"), [
    pytest.param("missing-column", "column `income` (monitor.features) is not in the log",
                 id="missing-column"),
    pytest.param("bad-time", "`yesterday noon`, which is not a date or time", id="bad-time"),
    pytest.param("empty", "the log has no rows", id="empty"),
    pytest.param("bad-label", "labels are 0/1", id="bad-label"),
])
def test_cli_bad_input_exits_2_with_the_fix(tmp_path: Path, edit: str, expect: str) -> None:
    path, log = _bad(tmp_path, edit)
    r = CliRunner().invoke(main, ["monitor", str(path), "--log", str(log)])
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert expect in text
    if edit == "missing-column":
        assert "did you mean `incme`" in text or "incme" in text


def test_cli_without_a_monitor_section_or_log_exits_2(tmp_path: Path) -> None:
    path, log = _cli_project(tmp_path)
    r = CliRunner().invoke(main, ["monitor", str(path), "--log", str(tmp_path / "nope.csv")])
    assert r.exit_code == 2
    assert "not found" in r.output
    text = path.read_text().split("monitor:")[0]
    path.write_text(text)
    r = CliRunner().invoke(main, ["monitor", str(path), "--log", str(log)])
    assert r.exit_code == 2
    assert "no `monitor:` section" in " ".join(r.output.split())


def test_a_requirement_the_field_misses_alerts(tmp_path: Path) -> None:
    # Back to the charter: the reference's ROC AUC is about 0.77.
    rng = np.random.default_rng(17)
    ref = population(3000, rng)
    windows = [population(300, rng) for _ in range(3)]
    path = write_project(tmp_path, ref, requirements={"roc_auc": ">= 0.9"})
    res = _run(path, windows)
    for w in res.windows:
        (req,) = [c for c in w.alerts if c.kind == "requirement"]
        assert "requirement `roc_auc >= 0.9` is not met in the field" in req.reason
    path = write_project(tmp_path, ref, requirements={"roc_auc": ">= 0.6"})
    res = _run(path, windows)
    assert not any(c.kind == "requirement" for w in res.windows for c in w.checks)


def test_two_models_on_the_same_traffic_are_each_monitored(tmp_path: Path) -> None:
    rng = np.random.default_rng(18)
    ref = population(3000, rng)
    ref["p_old"] = (ref["p_model"] * 0.5 + 0.1).round(4)  # a worse, miscalibrated model
    data = {"table": "eval.parquet", "id": "row_id", "label": "label", "split": "split",
            "models": {"model": "p_model", "old": "p_old"}}
    path = write_project(tmp_path, ref, data=data,
                         monitor={"model": None, "score": {"model": "p_model", "old": "p_old"}})
    windows = []
    for _ in range(3):
        w = population(300, rng)
        w["p_old"] = (w["p_model"] * 0.5 + 0.1).round(4)
        windows.append(w)
    res = _run(path, windows)
    assert set(res.models) == {"model", "old"}
    for w in res.windows:
        assert [p.model for p in w.performance] == ["model", "old"]
        assert {c.column for c in w.checks if c.kind == "score_shift"} == {"model", "old"}
    # Recalibration on the reference makes the old model's scores usable for CBPE too.
    old = [w.performance[1].estimates[0] for w in res.windows]
    assert sum(bool(e.inside) for e in old) >= 2


def test_back_test_line_says_holds_only_when_the_misses_are_what_the_level_allows() -> None:
    """2 of 4 labelled windows outside a 95% interval printed "holds" (digits QA): the
    failing rule (misses in most of the last windows) had not fired, yet so many misses
    are unlikely at that level. The line now says the back-test is in doubt, with the
    binomial p-value and when it would fail."""
    from scipy import stats

    from mlscope.cli_monitor import back_test_line
    from mlscope.monitor.result import BackTest
    from mlscope.monitor.run import RECENT, RECENT_MISSES

    def line(outside: int, windows: int, failed: bool = False) -> tuple[str, str]:
        p = float(stats.binomtest(outside, windows, 0.05, alternative="greater").pvalue)
        return back_test_line(BackTest("knn", "accuracy", windows, outside, 0.95, p, failed),
                              0.05)

    colour, text = line(2, 4)
    assert colour == "yellow"
    assert "in doubt" in text
    assert "holds" not in text
    assert "binomial p 0.014" in text
    assert f"fails at {RECENT_MISSES} misses in the last {RECENT}" in text
    assert line(0, 4) == ("green", "of knn's accuracy holds: outside its interval in 0 of 4 "
                                   "labelled window(s)")
    assert line(1, 20)[0] == "green"  # one miss in twenty: what a 95% interval allows
    assert line(4, 5, failed=True)[0] == "red"
    assert "failed" in line(4, 5, failed=True)[1]


def test_digest_counts_withheld_estimates_in_alerting_windows_too() -> None:
    """A window that alerts and whose estimate is not trustworthy has status `alert`; the
    digest once said "0 with the estimate not trustworthy" beside four such windows. It
    now counts every window whose estimate is withheld."""
    from mlscope.monitor.digest import digest_json, digest_markdown
    from mlscope.monitor.result import Check, Performance, Window

    def window(i: int, alert: bool, trusted: bool) -> Window:
        checks = [Check(kind="shift", column="x", slice="all", n=50, value=1.0,
                        reference=0.0, alert=alert, reason="PSI 1.6 ≥ 0.2")]
        perf = [Performance(model="m", threshold=0.5, estimates=[], trustworthy=trusted)]
        return Window(index=i, start=f"2005-0{i + 1}-01", end=f"2005-0{i + 2}-01", rows=50,
                      checks=checks, performance=perf)

    res = MonitorResult(project="p", charter="c.yaml", log={}, reference={}, window={},
                        models={}, gates={}, seed=0,
                        windows=[window(0, True, True), window(1, True, False),
                                 window(2, True, False), window(3, False, False),
                                 window(4, False, True)])
    d = digest_json(res)
    assert d["alerting"] == 3
    assert d["untrusted"] == 1  # the status: no alert, estimate withheld
    assert d["estimate_withheld"] == 3
    assert ("3 of 5 window(s) alerting; the performance estimate is withheld (not "
            "trustworthy) in 3;") in digest_markdown(res)
