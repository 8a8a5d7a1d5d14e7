"""Hostile monitor records: script in a slice level, a column name, a model name, a reason,
a warning or the log's path must reach the monitoring page as text, never run.

Two records: a real ``mlscope monitor`` result whose slice levels carry the payloads in
the data itself, and that result rewritten as anyone who can write to a shared store could
(every name and free text given the payloads). The page is fetched over HTTP with its
Content Security Policy and parsed (:func:`tests.hostile.test_web.assert_inert`).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest

from mlscope.charter import load_charter
from mlscope.monitor import monitor
from mlscope.server.app import Dashboard
from mlscope.store import Store
from tests.hostile.test_web import EVIL, PAYLOADS, assert_inert, scan
from tests.monitor_data import population, stamp, write_project
from tests.test_server import fetch, running


def _evil_regions(frame: Any) -> Any:
    frame = frame.copy()
    frame["region"] = frame["region"].where(frame["region"] != "east", "east" + EVIL)
    return frame


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("hostile-monitor")
    rng = np.random.default_rng(11)
    charter = write_project(folder, _evil_regions(population(2000, rng)))
    windows = [_evil_regions(population(300, rng, age_shift=12 if i == 2 else 0.0))
               for i in range(4)]
    res = monitor(load_charter(charter), charter, stamp(windows),
                  log_info={"path": f"/logs/{EVIL}.parquet", "sha256_sampled": EVIL})
    data = res.to_dict()
    levels = {k for w in data["windows"] for p in w["performance"] for k in p["slices"]}
    assert f"region=east{EVIL}" in levels  # the payload is a real slice level
    crafted = json.loads(json.dumps(data))
    # Names and free text only (a renamed key would be a damaged record, not a hostile one).
    crafted["models"] = {m + EVIL: v for m, v in crafted["models"].items()}
    for w in crafted["windows"]:
        for p in w["performance"]:
            p["model"] += EVIL
            p["reasons"] = [r + EVIL for r in p["reasons"]]
            for e in p["estimates"]:
                e["metric"] += EVIL
        for c in w["checks"]:
            c["column"] += EVIL  # the shift charts' titles, legends and alert summary
        for a in w["alerts"]:
            a["column"] += EVIL
            a["reason"] += EVIL
            a["kind"] += EVIL
    crafted["warnings"].append(EVIL)
    path = folder / "store.sqlite"
    with Store.open(path) as s:
        s.save_monitor(data, command="mlscope monitor", charter_hash="0" * 64)
        s.save_monitor(crafted, command=PAYLOADS[0], charter_hash="1" * 64,
                       created_at="2026-01-09T00:00:00+00:00")
    with Store.open(path, create=False) as s:
        yield s


def test_the_monitoring_page_of_hostile_records_runs_nothing(store: Store) -> None:
    with running(store) as base:
        r = fetch(base + "/p/monitor-test/monitoring")
        assert r.status == 200, r.body[:800]
        policies = [r.headers["content-security-policy"], *scan(r.body).csp]
        assert_inert(r.body, policies, reached=3)
        text = "".join(scan(r.body).text)
        # The payloads arrived where they were planted: a slice level, a column, a reason.
        assert f"region=east{PAYLOADS[0]}" in text
        assert f"age{PAYLOADS[0]}" in text
        assert f"{PAYLOADS[0]}" in text
        assert ".parquet" in text


def test_the_charts_escape_names(store: Store) -> None:
    r = Dashboard(store).respond("/p/monitor-test/monitoring")
    html = r.body.decode()
    svgs = html[html.index('class="series"'):]
    assert "<script>window.__xss" not in svgs
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in svgs


def test_the_slice_level_reached_the_stored_record(store: Store) -> None:
    data = store.monitor_result(1)
    assert any(k == f"region=east{EVIL}" for w in data["windows"]
               for p in w["performance"] for k in p["slices"])


def test_the_shift_charts_escape_column_names(store: Store) -> None:
    html = Dashboard(store).respond("/p/monitor-test/monitoring").body.decode()
    section = html[html.index('aria-label="shift"'):html.index('aria-label="alerts"')]
    escaped = "&lt;script&gt;window.__xss=1&lt;/script&gt;"
    assert "<script>" not in section
    assert "window.__xss" in section  # the payload arrived, as text
    # The shifted feature, named in the line above the fold and in its chart's title.
    summary = section.split("<details")[0]
    assert f"<code>age{escaped}" in summary
    assert 'aria-label="PSI of age&lt;script&gt;' in section
    assert f"<title>PSI of age{escaped}" in section
    for tag in ("<img", "<iframe", "<svg onload", "<foreignObject"):
        assert tag not in section


def test_a_monitor_only_project_with_a_hostile_name_is_listed_inert(
        tmp_path_factory: pytest.TempPathFactory, store: Store) -> None:
    data = store.monitor_result(1)
    evil = "watch" + "".join(PAYLOADS[:3])  # a project name is at most 255 characters
    data["project"] = evil
    path = tmp_path_factory.mktemp("hostile-list") / "store.sqlite"
    with Store.open(path) as s:
        s.save_monitor(data, command="mlscope monitor", charter_hash="0" * 64)
        s.save_monitor({**data, "project": "second"}, command="mlscope monitor",
                       charter_hash="0" * 64)
        with running(s) as base:
            r = fetch(base + "/")
            assert r.status == 200, r.body[:800]
            assert_inert(r.body, [r.headers["content-security-policy"], *scan(r.body).csp])
            assert "only monitoring records" in r.body
            href = "/p/" + quote(evil, safe="") + "/monitoring"
            assert f'href="{href}"' in r.body
            page = fetch(base + href)
            assert page.status == 200, page.body[:800]
            assert_inert(page.body, [page.headers["content-security-policy"],
                                     *scan(page.body).csp])
