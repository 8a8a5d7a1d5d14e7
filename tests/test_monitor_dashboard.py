"""The dashboard's monitoring page over real ``mlscope monitor`` records: the windows, the
alerts on the right windows, the performance series with the reference, the PSI per
feature and score with the column's own alerting windows, re-runs that do not double
windows, the link from the project only when records exist, a project with monitor records
and no run on the project list, and damaged records shown as an error page naming the
record and the field."""

from __future__ import annotations

import json
import re
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import pytest

import mlscope
from mlscope.charter import charter_to_dict, load_charter
from mlscope.data.source import file_fingerprint, read_file
from mlscope.monitor import monitor
from mlscope.server.app import Dashboard
from mlscope.store import Store
from mlscope.store.records import charter_hash
from mlscope.store.schema import MONITORS_TABLE
from tests.monitor_store_data import SHIFTED_DAY, project

PAGE = "/p/monitor-test/monitoring"


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store with one run of the project and its monitor records: the six-day log twice
    (a re-run), then a log of days 4-8 that overlaps it."""
    folder = tmp_path_factory.mktemp("mondash")
    charter, first, second = project(folder)
    ch = load_charter(charter)
    results = [monitor(ch, charter, read_file(p, "--log"), log_info=file_fingerprint(p))
               for p in (first, second)]
    path = folder / "store.sqlite"
    with Store.open(path) as store:
        store.save(mlscope.evaluate(charter), command="mlscope run")
        for res in (results[0], results[0], results[1]):
            store.save_monitor(res.to_dict(), command="mlscope monitor",
                               charter_hash=charter_hash(charter_to_dict(ch)))
    return {"path": path, "results": results}


def _get(path: Path, target: str) -> tuple[int, str]:
    with Store.open(path, create=False) as store:
        r = Dashboard(store).respond(target)
    return r.status, r.body.decode("utf-8")


def _strip_titles(html: str) -> list[str]:
    strip = re.search(r'<svg[^>]*class="strip".*?</svg>', html, re.S)
    assert strip is not None
    return re.findall(r"<title>([^<]*)</title>", strip.group(0))[1:]  # [0]: the chart's


def test_the_page_shows_each_window_once_with_its_alerts(filled: dict[str, Any]) -> None:
    status, html = _get(filled["path"], PAGE)
    assert status == 200, html[-800:]
    titles = _strip_titles(html)
    # Days 1..8 once each although the first log was recorded twice.
    assert [t[:10] for t in titles] == [f"2026-01-0{d}" for d in range(1, 9)]
    alerting = [t[:10] for t in titles if t.endswith(": alert")]
    # The shifted day of each log (day 4 in both, and the second log's day 4 wins).
    assert alerting == [SHIFTED_DAY]
    assert "record #3" in next(t for t in titles if t.startswith(SHIFTED_DAY))
    assert "record #2" in titles[0]
    # The alerts table lists the shifted day's alerts, with their reasons, and only those:
    # one group for the window, its whole-window alerts first, the slices' folded.
    table = re.search(r'<table class="data" id="alerts">.*?</table>\s*</div>', html, re.S)
    assert table is not None
    groups = re.findall(r'<tbody class="win">(.*?)</tbody>\s*(?=<tbody class="win">|</table>)',
                        table.group(0), re.S)
    assert len(groups) == 1
    assert re.search(r'<td class="nowrap">([^<]+)</td>', groups[0]).group(1).startswith(
        SHIFTED_DAY)
    reasons = re.findall(r'<td class="reason">([^<]*)</td>', groups[0])
    shifted = filled["results"][1].windows[0]
    assert len(reasons) == len(shifted.alerts)
    assert sorted(reasons) == sorted(a.reason for a in shifted.alerts)
    assert any("PSI" in r for r in reasons)
    assert "<code>age</code>" in groups[0]
    overall = sum(a.slice == "all" for a in shifted.alerts)
    assert f"{len(shifted.alerts) - overall} in slices</summary>" in groups[0]
    # Every performance chart shades that window (one mark each) and draws the reference
    # (the shift charts mark a column's own alerts: see the shift test below).
    performance = html[:html.index('<section class="card" aria-label="shift">')]
    charts = re.findall(r'<svg[^>]*class="series".*?</svg>', performance, re.S)
    assert len(charts) >= 2
    for svg in charts:
        assert svg.count(": alert</title>") == 1
    assert 'stroke-dasharray="2 4"' in charts[0]  # the reference's roc_auc
    assert "roc_auc" in charts[0]
    # Per slice: the first metric in each region.
    assert "Per slice: 4 levels" in html
    assert "roc_auc in region=north" in html
    assert "Monitor runs" in html
    assert html.count("<code title=\"sampled SHA-256") == 3


def test_the_reference_line_is_the_reference_value(filled: dict[str, Any]) -> None:
    res = filled["results"][0]
    ref = res.models["model"]["reference_values"]
    assert set(ref) == set(res.models["model"]["metrics"])
    assert 0.6 < ref["roc_auc"] < 0.9
    # The stored value and the one recomputed on the reference split by mlscope agree.
    run = mlscope.evaluate(Path(filled["path"]).parent / "mlscope.yaml")
    for metric in ("roc_auc", "accuracy"):
        assert ref[metric] == pytest.approx(
            run.value(metric, "model", split="test").value, abs=1e-9)


def test_the_last_windows_and_bad_queries(filled: dict[str, Any]) -> None:
    status, html = _get(filled["path"], PAGE + "?last=30")
    assert status == 200
    assert len(_strip_titles(html)) == 8
    status, html = _get(filled["path"], PAGE + "?last=7")
    assert status == 400
    assert "30, 90, 365, all" in html
    status, html = _get(filled["path"], "/p/nobody/monitoring")
    assert status == 404
    assert "mlscope monitor" in html


def test_the_project_links_to_monitoring_only_when_monitored(filled: dict[str, Any],
                                                            tmp_path: Path) -> None:
    status, html = _get(filled["path"], "/p/monitor-test")
    assert status == 200
    assert 'href="/p/monitor-test/monitoring"' in html
    # The same run without monitor records: no link.
    with Store.open(filled["path"], create=False) as store:
        result = store.result(1)
    with Store.open(tmp_path / "plain.sqlite") as store:
        store.save(result, command="mlscope run")
    status, html = _get(tmp_path / "plain.sqlite", "/p/monitor-test")
    assert status == 200
    assert "/monitoring" not in html


def _tamper(path: Path, rid: int, fn: Any) -> None:
    with sqlite3.connect(path) as con:
        blob = con.execute(f"SELECT result FROM {MONITORS_TABLE} WHERE id = ?",
                           (rid,)).fetchone()[0]
        new = fn(blob)
        con.execute(f"UPDATE {MONITORS_TABLE} SET result = ? WHERE id = ?", (new, rid))


@pytest.mark.parametrize(("damage", "says"), [
    (lambda d: b"not zlib", "its result cannot be decoded"),
    (lambda d: zlib.compress(b"[1, 2]"), "is not a mlscope.monitor/1 result"),
    (lambda d: _edit(d, lambda j: j["windows"][1].__setitem__("status", "<b>fine</b>")),
     "windows[1].status: expected one of ok, alert, untrusted"),
    (lambda d: _edit(d, lambda j: j["windows"][2]["performance"][0]["estimates"][0]
                     .__setitem__("low", "0.7")),
     "windows[2].performance[0].estimates[0].low: expected a finite number"),
    (lambda d: _edit(d, lambda j: j["windows"].pop()),
     "its window 4 (2026-01-08"),
    (lambda d: zlib.compress(json.dumps(json.loads(zlib.decompress(d))).replace(
        '"rows": 300', '"rows": NaN', 1).encode()), "windows[0].rows: expected a count"),
])
def test_a_damaged_record_is_an_error_page(filled: dict[str, Any], tmp_path: Path,
                                           damage: Any, says: str) -> None:
    path = tmp_path / "copy.sqlite"
    path.write_bytes(Path(filled["path"]).read_bytes())
    _tamper(path, 3, damage)
    status, html = _get(path, PAGE)
    assert status == 500, html[-500:]
    assert "A monitor record cannot be read" in html
    assert "monitor record 3" in html
    assert says.replace("<", "&lt;") in html.replace("&#39;", "'")
    assert "Traceback" not in html
    assert "<b>fine</b>" not in html
    # The project's other pages are not affected.
    assert _get(path, "/p/monitor-test")[0] == 200


def _edit(blob: bytes, fn: Any) -> bytes:
    data = json.loads(zlib.decompress(blob))
    fn(data)
    return zlib.compress(json.dumps(data).encode())


def test_the_shadow_gates_decision_leads_the_page(tmp_path: Path) -> None:
    import numpy as np

    from tests.monitor_data import shadow_population, shadow_project, stamp

    rng = np.random.default_rng(21)
    ref = shadow_population(2000, rng, candidate_noise=0.5)
    log = stamp([shadow_population(300, rng, candidate_noise=0.5) for _ in range(3)])
    charter = shadow_project(tmp_path, ref, {"roc_auc": {"improve": 0.0}})
    res = monitor(load_charter(charter), charter, log)
    assert res.rollout is not None
    with Store.open(tmp_path / "s.sqlite") as store:
        store.save_monitor(res.to_dict(), command="mlscope monitor", charter_hash="0" * 64)
        assert store.monitors("monitor-test")[0].decision == res.rollout.decision
    status, html = _get(tmp_path / "s.sqlite", PAGE)
    assert status == 200
    box = re.search(r'<div class="status (\w+)" role="status">(.*?)</div>', html, re.S)
    assert box is not None
    assert box.group(1) == {"PROMOTE": "ok", "HOLD": "warn", "ROLL BACK": "bad"}[
        res.rollout.decision]
    assert f"Shadow gate: {res.rollout.decision}" in box.group(2)
    assert "new (in shadow) against model (in production)" in box.group(2)
    for reason in res.rollout.reasons:
        assert reason.replace("'", "&#39;").replace('"', "&#34;") in box.group(2)
    # Both models are drawn in the performance chart, each with its reference line.
    head = re.search(r'<svg[^>]*class="series".*?</svg>', html, re.S)
    assert head is not None
    assert head.group(0).count('stroke-dasharray="2 4"') == 2
    assert "<title>new</title>" in head.group(0)
    assert "<title>model</title>" in head.group(0)
    assert "<td>" + res.rollout.decision + "</td>" in html  # in the runs table


def test_a_record_carries_the_charter_hash_of_its_runs(filled: dict[str, Any]) -> None:
    with Store.open(filled["path"], create=False) as store:
        run = store.run(1)
        hashes = {m.charter_hash for m in store.monitors("monitor-test")}
    assert hashes == {run.charter_hash}


# -- the shift charts -------------------------------------------------------------------


def _shift_section(html: str) -> str:
    m = re.search(r'<section class="card" aria-label="shift">(.*?)</section>', html, re.S)
    assert m is not None
    return m.group(1)


def _shift_svg(section: str, label: str) -> str:
    m = re.search(rf'<figure class="figure" aria-label="PSI of {re.escape(label)}">'
                  r'(<svg[^>]*class="series".*?</svg>)</figure>', section, re.S)
    assert m is not None, label
    return m.group(1)


def _psi(window: Any, kind: str, column: str) -> float:
    return next(c.effects["psi"] for c in window.checks
                if c.kind == kind and c.column == column and c.slice == "all")


def test_the_shift_charts_mark_the_shifted_features_window(filled: dict[str, Any]) -> None:
    from mlscope.server.monitoring import monitoring_view

    first, second = filled["results"]
    # The series: days 1-3 from the re-run of the first log, days 4-8 from the second log.
    series = [*first.windows[:3], *second.windows]
    with Store.open(filled["path"], create=False) as store:
        view = monitoring_view(store, "monitor-test", "90")
        stored = store.monitor_result(3)["windows"][0]
    assert view is not None
    shift = view["shift"]
    charts = {(c["kind"], c["column"]): c for c in shift["charts"]}
    age = charts[("shift", "age")]
    day = [w.start[:10] for w in series].index(SHIFTED_DAY)
    assert age["marks"] == [day]  # the shifted day and only it
    # The values are monitor.json's PSI of each window's whole-window check, exactly.
    assert age["values"] == [_psi(w, "shift", "age") for w in series]
    assert age["values"][day] == next(c["effects"]["psi"] for c in stored["checks"]
                                      if c["kind"] == "shift" and c["column"] == "age"
                                      and c["slice"] == "all")
    assert age["values"][day] > 0.2 > max(v for i, v in enumerate(age["values"]) if i != day)
    assert age["gate"] == second.gates["psi"] == 0.2
    # The model's score is charted too, first (the output), with its own alerting windows.
    assert shift["charts"][0]["kind"] == "score_shift"
    score = charts[("score_shift", "model")]
    assert score["values"] == [_psi(w, "score_shift", "model") for w in series]
    assert score["marks"] == [i for i, w in enumerate(series) for c in w.checks
                              if c.kind == "score_shift" and c.slice == "all" and c.alert]
    # A feature that did not move: drawn, nothing marked; every feature is there.
    assert charts[("shift", "visits")]["marks"] == []
    assert {c for k, c in charts if k == "shift"} == {"age", "income", "visits", "region",
                                                       "device"}
    assert shift["features"] == 5
    assert shift["outputs"] == 1

    status, html = _get(filled["path"], PAGE)
    assert status == 200
    section = _shift_section(html)
    # Folded: the charts are in a closed <details>; the alerting columns are said above it.
    assert '<details id="shift"><summary>PSI per window: 5 features and 1 output</summary>' \
        in section
    assert "<code>age</code> (1 window: 01-04)" in section.split("<details")[0]
    svg = _shift_svg(section, "age")
    assert re.findall(r"<title>([^<]*): alert</title>", svg) == ["01-04"]
    assert f"<title>01-04: {age['values'][day]:.3f}</title>" in svg
    assert ">gate 0.2</text>" in svg
    assert ": alert</title>" not in _shift_svg(section, "visits")
    assert _shift_svg(section, "score of model").count(": alert</title>") == len(score["marks"])


def test_a_damaged_shift_check_is_named(filled: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "copy.sqlite"
    path.write_bytes(Path(filled["path"]).read_bytes())

    def damage(j: dict[str, Any]) -> None:
        age = next(i for i, c in enumerate(j["windows"][0]["checks"])
                   if c["kind"] == "shift" and c["slice"] == "all" and c["column"] == "age")
        j["windows"][0]["checks"][age]["effects"]["psi"] = "1.4"

    _tamper(path, 3, lambda d: _edit(d, damage))
    status, html = _get(path, PAGE)
    assert status == 500
    assert "monitor record 3 is damaged" in html
    assert ".effects.psi: expected a finite number or null" in html


# -- the project list -------------------------------------------------------------------


def _only(filled: dict[str, Any], path: Path, project: str, *, with_run: bool) -> None:
    data = filled["results"][0].to_dict()
    data["project"] = project
    with Store.open(path) as store:
        if with_run:
            with Store.open(filled["path"], create=False) as src:
                store.save(src.result(1), command="mlscope run")
        store.save_monitor(data, command="mlscope monitor", charter_hash="0" * 64)


def _row(html: str, project_href: str) -> str:
    m = re.search(rf'<tr>\s*<th scope="row"><a class="run" href="{re.escape(project_href)}">'
                  r".*?</tr>", html, re.S)
    assert m is not None, project_href
    return m.group(0)


def test_a_monitor_only_project_is_listed_and_linked(filled: dict[str, Any],
                                                     tmp_path: Path) -> None:
    path = tmp_path / "both.sqlite"
    _only(filled, path, "watch only", with_run=True)
    status, html = _get(path, "/")
    assert status == 200  # two projects: the list, no redirect
    assert "2 projects in this store" in html
    assert "a project with monitoring records only opens on its monitoring page" in html
    # The project with a run: as before, its latest run.
    ran = _row(html, "/p/monitor-test")
    assert '<a href="/runs/1">#1</a>' in ran
    assert "only monitoring records" not in ran
    # The monitor-only project: named, said so, linked to its monitoring page.
    href = "/p/watch%20only/monitoring"
    only = _row(html, href)
    assert ">watch only</a>" in only
    assert "only monitoring records, no runs" in only
    assert f'<a href="{href}">its monitoring page</a>' in only
    assert "latest record #1" in only
    assert "6 windows" in only
    # The link works: the page of its records, with no link to a project page it lacks.
    status, page = _get(path, href)
    assert status == 200, page[-500:]
    assert len(_strip_titles(page)) == 6
    assert "no runs stored: monitoring records only" in page
    assert 'href="/p/watch%20only"' not in page
    # Its would-be project page says where its records are.
    status, page = _get(path, "/p/watch%20only")
    assert status == 404
    assert "its monitor records: /p/watch%20only/monitoring" in page


def test_the_list_of_monitor_only_projects_alone(filled: dict[str, Any],
                                                 tmp_path: Path) -> None:
    path = tmp_path / "only.sqlite"
    _only(filled, path, "watch", with_run=False)
    status, html = _get(path, "/")
    assert status == 200  # listed, not redirected to a project page that does not exist
    assert "1 project in this store" in html
    assert '<a href="/p/watch/monitoring">its monitoring page</a>' in _row(
        html, "/p/watch/monitoring")


def test_one_project_with_runs_still_opens_on_its_page(filled: dict[str, Any]) -> None:
    # Its monitor records are no second project: the list redirects as before.
    with Store.open(filled["path"], create=False) as store:
        assert store.monitored_projects() == store.projects() == ["monitor-test"]
        r = Dashboard(store).respond("/")
    assert r.status == 302
    assert r.headers["Location"] == "/p/monitor-test"
