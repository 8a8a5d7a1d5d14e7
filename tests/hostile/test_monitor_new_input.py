"""Hostile and careless input to the newer paths of ``mlscope monitor``: canary arms,
blue-green switch times, regression and multiclass logs, all-NaN scores, the digest's
paths, DuckDB tables, degenerate timestamps and CSV headers.

Each case either exits 2 naming the column, key or path and the fix, changing nothing on
disk, or is legitimately usable and gives a result whose ``monitor.json`` is strict JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mlscope.cli import main
from tests.hostile.snapshot import assert_unchanged, snapshot
from tests.monitor_data import population, shadow_population, shadow_project, stamp, write_project
from tests.monitor_tasks_data import (
    multiclass_population,
    multiclass_project,
    regression_population,
    regression_project,
)

GATE = {"roc_auc": {"improve": 0.0}}
CANARY = {"model": "new", "mode": "canary", "arm": "served_by"}
# A case builds (charter, log file or frame, extra CLI arguments) in a folder.
Case = tuple[Path, "pd.DataFrame | Path", list[str]]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _strict(path: Path) -> dict[str, Any]:
    """``path`` as JSON, refusing NaN and Infinity (which strict JSON has not)."""
    def refuse(token: str) -> None:
        raise ValueError(f"{path.name} holds {token}")

    out: dict[str, Any] = json.loads(path.read_text(), parse_constant=refuse)
    return out


def _invoke(tmp: Path, charter: Path, log: pd.DataFrame | Path, extra: list[str],
            out: Path | None = None) -> Any:
    if isinstance(log, pd.DataFrame):
        file = tmp / "log.parquet"
        log.to_parquet(file, index=False)
        log = file
    return CliRunner().invoke(main, ["monitor", str(charter), "--log", str(log), "--out",
                                     str(out or tmp / "out"), *extra])


# --- builders ------------------------------------------------------------------------------


def _canary_log(tmp: Path, rows: int = 300) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(40)
    path = shadow_project(tmp, shadow_population(600, rng), GATE, candidate=CANARY)
    parts = []
    for _ in range(2):
        w = shadow_population(rows, rng)
        pick = rng.random(rows) < 0.5
        w["served_by"] = np.where(pick, "new", "model")
        w["p_model"] = np.where(pick, w["p_new"], w["p_model"])
        parts.append(w.drop(columns="p_new"))
    return path, stamp(parts)


def _blue_green(tmp: Path, switch: str, aware: bool = True) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(41)
    path = shadow_project(tmp, shadow_population(600, rng), GATE,
                          candidate={"model": "new", "mode": "blue_green", "switch": switch})
    log = stamp([shadow_population(250, rng) for _ in range(4)])
    after = log["served_at"] >= pd.Timestamp("2026-01-03", tz="UTC")
    log["p_model"] = np.where(after, log["p_new"], log["p_model"])
    log = log.drop(columns="p_new")
    if not aware:
        log["served_at"] = log["served_at"].dt.tz_localize(None)
    return path, log


def _regression(tmp: Path) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(42)
    path = regression_project(tmp, regression_population(800, rng))
    return path, stamp([regression_population(200, rng) for _ in range(2)])


def _multiclass(tmp: Path) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(43)
    path = multiclass_project(tmp, multiclass_population(800, rng))
    return path, stamp([multiclass_population(200, rng) for _ in range(2)])


def _binary(tmp: Path, windows: int = 2, rows: int = 200,
            labels: bool = True) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(45)
    path = write_project(tmp, population(800, rng))
    return path, stamp([population(rows, rng) for _ in range(windows)], labels=labels)


def _set(df: pd.DataFrame, col: str, row: int, value: object) -> pd.DataFrame:
    df[col] = df[col].astype(object) if isinstance(value, str) else df[col]
    df.loc[row, col] = value
    return df


def _arm_empty(tmp: Path) -> Case:
    path, log = _canary_log(tmp)
    log["served_by"] = log["served_by"].astype(object)
    log.loc[5, "served_by"] = None
    return path, log, []


def _arm_numbers(tmp: Path) -> Case:
    path, log = _canary_log(tmp)
    log["served_by"] = (log["served_by"] == "new").astype(int)
    return path, log, []


def _csv_duplicate(tmp: Path) -> Case:
    path, log = _binary(tmp)
    lines = log.to_csv(index=False).splitlines()
    lines[0] = lines[0].replace("visits", "age")
    file = tmp / "log.csv"
    file.write_text("\n".join(lines) + "\n")
    return path, file, []


def _mc(edit: Callable[[pd.DataFrame], object]) -> Callable[[Path], Case]:
    def build(tmp: Path) -> Case:
        path, log = _multiclass(tmp)
        edit(log)
        return path, log, []
    return build


def _reg(col: str, value: object) -> Callable[[Path], Case]:
    def build(tmp: Path) -> Case:
        path, log = _regression(tmp)
        log = _set(log, col, 3, value)
        if isinstance(value, str):  # Parquet would refuse text in a float column; CSV not
            log.to_csv(tmp / "log.csv", index=False)
            return path, tmp / "log.csv", []
        return path, log, []
    return build


def _digest_at(make: Callable[[Path], Path]) -> Callable[[Path], Case]:
    def build(tmp: Path) -> Case:
        path, log = _binary(tmp)
        return path, log, ["--digest", str(make(tmp))]
    return build


def _folder(tmp: Path) -> Path:
    (tmp / "chat").mkdir()
    return tmp / "chat"


def _under_a_file(tmp: Path) -> Path:
    (tmp / "notes").write_text("x")
    return tmp / "notes" / "digest.md"


def _duckdb(tmp: Path, table: str, sql: str) -> Case:
    import duckdb

    path, log = _binary(tmp)
    file = tmp / "log.duckdb"
    con = duckdb.connect(str(file))
    try:
        con.register("frame", log)
        con.execute("CREATE TABLE served AS SELECT * FROM frame")
        con.execute(sql)
    finally:
        con.close()
    return path, file, ["--table", table]


def _p_a(v: float) -> Callable[[pd.DataFrame], object]:
    return lambda d: d.__setitem__("p_a", np.where(d.index == 3, v, d["p_a"]))


BAD: list[Any] = [
    pytest.param(_arm_empty, "column `served_by` (monitor.candidate.arm) is empty in row 6 of "
                 "the log", id="arm-empty"),
    pytest.param(_arm_numbers, "holds `0`, `1`, which is not one of the two models `model`",
                 id="arm-numbers"),
    pytest.param(lambda t: (lambda p, lg: (p, _set(lg, "served_by", 4, "gbdt"), []))(
        *_canary_log(t)), "`gbdt`, which is not one of the two models", id="arm-third-value"),
    pytest.param(lambda t: (lambda p, lg: (p, lg.assign(served_by="new"), []))(
        *_canary_log(t)), "no row of the log was served by `model`", id="arm-only-one"),
    pytest.param(lambda t: (*_blue_green(t, "2025-06-01"), []),
                 "`monitor.candidate.switch: 2025-06-01` is before the log's first row",
                 id="switch-before-log"),
    pytest.param(lambda t: (*_blue_green(t, "2027-06-01"), []),
                 "`monitor.candidate.switch: 2027-06-01` is after the log's last row",
                 id="switch-after-log"),
    pytest.param(_reg("y", np.inf), "label column `y` (monitor.label) holds `inf` in row 4 "
                 "of the log (infinite)", id="regression-label-inf"),
    pytest.param(_reg("pred", -np.inf), "column `pred` (the score of `ridge`) holds `-inf` in "
                 "row 4", id="regression-prediction-inf"),
    pytest.param(_reg("pred", 1e300), "holds `1e+300` in row 4 of the log (too large to "
                 "square in float64)", id="regression-prediction-huge"),
    pytest.param(_reg("y", -1e200), "label column `y` (monitor.label) holds `-1e+200`",
                 id="regression-label-huge"),
    pytest.param(_reg("pred", "high"), "column `pred` (the score of `ridge`) holds values "
                 "that are not numbers", id="regression-prediction-text"),
    pytest.param(_mc(lambda d: d.pop("p_c")),
                 "column `p_c` (model `forest`'s probability of class `c`", id="mc-missing"),
    pytest.param(_mc(_p_a(-0.2)), "column `p_a` holds `-0.2` in row 4 of the log, outside "
                 "[0, 1]", id="mc-negative"),
    pytest.param(_mc(_p_a(1.5)), "column `p_a` holds `1.5` in row 4 of the log, outside "
                 "[0, 1]", id="mc-above-one"),
    pytest.param(_mc(lambda d: d.__setitem__("p_a", d["p_a"] * 0.5)),
                 "row 1 of the log sums to", id="mc-not-summing-to-one"),
    pytest.param(_mc(lambda d: d.__setitem__("p_b", np.where(d.index == 7, np.nan,
                                                              d["p_b"]))),
                 "row 8 of the log has `p_b` empty and the other classes filled",
                 id="mc-nan-in-some-columns"),
    pytest.param(_mc(lambda d: _set(d, "label", 2, "z")),
                 "holds `z`, which is not a class of the charter (classes: a, b, c)",
                 id="mc-unknown-label"),
    pytest.param(lambda t: (lambda p, lg: (p, _set(lg, "p_model", 9, np.inf), []))(
        *_binary(t)), "column `p_model` (the score of `model`) holds `inf` in row 10",
        id="binary-score-inf"),
    pytest.param(_digest_at(_folder), "--digest: {tmp}/chat is a folder; name a file",
                 id="digest-is-a-folder"),
    pytest.param(_digest_at(_under_a_file), "--digest: {tmp}/notes is a file, so",
                 id="digest-parent-is-a-file"),
    pytest.param(lambda t: (*_binary(t), (t / "taken").write_text("x") and [
        "--out", str(t / "taken")]), "--out: {tmp}/taken is a file, so", id="out-is-a-file"),
    pytest.param(lambda t: _duckdb(t, "empty", "CREATE TABLE empty AS SELECT * FROM served "
                                   "WHERE false"), "the log has no rows", id="table-no-rows"),
    pytest.param(lambda t: _duckdb(t, "servd", "SELECT 1"), "table `servd` is not in "
                 "log.duckdb", id="table-misspelt"),
    pytest.param(_csv_duplicate, "log.csv has two columns with the same name, `age` and "
                 "`age`", id="csv-duplicate"),
]


@pytest.mark.parametrize(("build", "needle"), BAD)
def test_bad_input_exits_2_naming_the_fix_and_changes_nothing(
        tmp_path: Path, build: Callable[[Path], Case], needle: str) -> None:
    charter, log, extra = build(tmp_path)
    if isinstance(log, pd.DataFrame):
        log.to_parquet(tmp_path / "log.parquet", index=False)
        log = tmp_path / "log.parquet"
    before = snapshot(tmp_path)
    r = _invoke(tmp_path, charter, log, extra)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert needle.format(tmp=tmp_path) in _flat(r.output), r.output
    assert_unchanged(before, tmp_path)


# --- usable input: a correct result, a warning where it says little ------------------------


def _all_scores_nan(tmp: Path) -> Case:
    path, log = _binary(tmp)
    return path, log.assign(p_model=np.nan), []


USABLE: list[Any] = [
    # Every score missing is a broken pipeline in production: the monitor's job is to
    # page (exit 1, a null_score alert in every window), not to refuse the log.
    pytest.param(_all_scores_nan, 1, "null_score model: no score 100.0%", id="all-scores-nan"),
    pytest.param(_mc(lambda d: d.__setitem__("p_b", np.nan) or d.__setitem__(
        "p_a", np.nan) or d.__setitem__("p_c", np.nan)), 1, "null_score forest: no score",
        id="mc-all-probabilities-nan"),
    pytest.param(lambda t: (*_binary(t, labels=False), []), 0, "roc_auc ≈",
                 id="no-window-has-a-label"),
    pytest.param(lambda t: (lambda p, lg: (p, lg.assign(served_at=lg["served_at"].iloc[0]),
                                           []))(*_binary(t)), 0, "1 window(s)",
                 id="timestamps-all-equal"),
    pytest.param(lambda t: (*_binary(t, windows=1, rows=1), []), 0,
                 "1 window(s) hold fewer than 30 rows (#0)", id="single-row"),
    pytest.param(lambda t: _duckdb(t, "recent", "CREATE VIEW recent AS SELECT * FROM "
                                   "served"), 0, "0 of 2 window(s) raised an alert",
                 id="table-is-a-view"),
    pytest.param(lambda t: (lambda p, lg: (p, lg.assign(label=np.where(
        lg["served_by"] == "new", np.nan, lg["label"])), []))(*_canary_log(t)), 1,
        "0 labelled row(s) served by new: the realised gate needs at least 30 of both "
        "classes in each arm", id="canary-arm-without-labels"),
    pytest.param(lambda t: (lambda p, lg: (p, lg.assign(label=np.where(
        lg["served_by"] == "new", 0, lg["label"])), []))(*_canary_log(t)), 1,
        "served by new of one class: the realised gate needs at least 30 of both classes",
        id="canary-arm-of-one-class"),
    pytest.param(_digest_at(lambda t: t / "new" / "deeper" / "digest.md"), 0,
                 "deeper/digest.md", id="digest-parent-created"),
]


@pytest.mark.parametrize(("build", "code", "needle"), USABLE)
def test_usable_input_gives_a_result_in_strict_json(
        tmp_path: Path, build: Callable[[Path], Case], code: int, needle: str) -> None:
    charter, log, extra = build(tmp_path)
    r = _invoke(tmp_path, charter, log, extra)
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output
    assert needle in _flat(r.output), r.output
    res = _strict(tmp_path / "out" / "monitor.json")
    _strict(tmp_path / "out" / "digest.json")
    assert res["summary"]["exit_code"] == code
    if "served by new" in needle:  # a canary without usable labels in one arm
        assert res["rollout"]["decision"] == "HOLD"


def test_switch_time_means_the_same_instant_however_it_is_written(tmp_path: Path) -> None:
    # A tz-naive log is read as UTC (as the monitor reads its timestamps); the switch as a
    # bare date, naive or with an offset must cut the log at the same row.
    decisions = []
    for i, (switch, aware) in enumerate([("2026-01-03T00:00:00+00:00", True),
                                         ("2026-01-03", True),
                                         ("2026-01-03T00:00:00", False),
                                         ("2026-01-03T00:00:00", True),
                                         ("2026-01-03T01:00:00+01:00", False)]):
        folder = tmp_path / str(i)
        folder.mkdir()
        path, log = _blue_green(folder, switch, aware)
        r = _invoke(folder, path, log, ["--no-store"])
        assert r.exit_code in (0, 1), r.output
        ro = _strict(folder / "out" / "monitor.json")["rollout"]
        decisions.append((ro["decision"], ro["cumulative"]["figures"]["rows_production"],
                          ro["cumulative"]["figures"]["rows_candidate"]))
    assert len(set(decisions)) == 1, decisions
    assert decisions[0][1] == decisions[0][2] == 500


# --- no half-updated outputs ----------------------------------------------------------------


def _first_run(tmp: Path) -> tuple[Path, Path, Path]:
    path, log = _binary(tmp)
    file = tmp / "log.parquet"
    log.to_parquet(file, index=False)
    r = _invoke(tmp, path, file, ["--digest", str(tmp / "chat" / "digest.md")])
    assert r.exit_code == 0, r.output
    return path, file, tmp / "out"


def test_a_bad_digest_path_leaves_the_previous_outputs_and_the_store(tmp_path: Path) -> None:
    path, file, _ = _first_run(tmp_path)
    (tmp_path / "folder.md").mkdir()
    before = snapshot(tmp_path)
    r = _invoke(tmp_path, path, file, ["--digest", str(tmp_path / "folder.md")])
    assert r.exit_code == 2, r.output
    assert "is a folder" in _flat(r.output)
    assert_unchanged(before, tmp_path)


def test_a_write_failing_midway_replaces_no_output(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import mlscope.atomic as atomic

    path, file, _ = _first_run(tmp_path)
    real = atomic._stage

    def failing(target: Path, data: bytes | Path) -> Path:
        # The digest's copy is staged last: everything before it is already written.
        if target.parent.name == "chat" and target.suffix == ".json":
            raise PermissionError(13, "Permission denied", str(target))
        return real(target, data)

    monkeypatch.setattr(atomic, "_stage", failing)
    before = snapshot(tmp_path)
    r = _invoke(tmp_path, path, file, ["--no-store", "--digest",
                                       str(tmp_path / "chat" / "digest.md")])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert "Permission denied" in _flat(r.output)
    assert "nothing was replaced" in _flat(r.output)
    assert_unchanged(before, tmp_path)
    assert not [p for p in tmp_path.rglob(".*.tmp")]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root writes into any folder; permissions cannot refuse it")
def test_a_digest_in_a_read_only_folder_exits_2(tmp_path: Path) -> None:
    path, log = _binary(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        r = _invoke(tmp_path, path, log, ["--digest", str(locked / "digest.md")])
    finally:
        locked.chmod(0o700)
    assert r.exit_code == 2, r.output
    assert f"no write permission in {locked}" in _flat(r.output)
    assert not (tmp_path / "out").exists()


def test_monitor_json_refuses_nan_rather_than_writing_it() -> None:
    from mlscope.monitor.result import MonitorResult

    res = MonitorResult.__new__(MonitorResult)
    # to_dict turns non-finite floats into null; whatever slips past must be refused.
    res.to_dict = lambda: {"x": float("nan")}  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="Out of range float values are not JSON"):
        res.to_json()
