"""``monitor.html`` in a real browser (headless Chromium via Playwright, the system's
browser; skipped when there is none): it renders without errors and fits 1,280 px."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mlscope.charter import load_charter
from mlscope.monitor import monitor
from mlscope.report.monitor_page import write_monitor_html
from tests.browser_checks import BROKEN_WORDS_JS
from tests.monitor_data import population, shadow_population, shadow_project, stamp

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("no chromium on this machine (the browser tests use the system browser)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (pip install playwright)")


def test_monitor_page_renders_and_fits_1280_px(tmp_path: Path) -> None:
    rng = np.random.default_rng(50)
    ref = shadow_population(2000, rng, candidate_noise=0.5)
    windows = [shadow_population(300, rng, candidate_noise=0.5) for _ in range(5)]
    shifted = population(300, rng, age_shift=12)
    shifted["p_new"] = shifted["p_model"]
    windows.append(shifted)
    path = shadow_project(tmp_path, ref, {"roc_auc": {"improve": 0.0}})
    res = monitor(load_charter(path), path, stamp(windows))
    assert res.alerting  # the shifted window alerts: the alerts table is on the page
    page_path = write_monitor_html(res, tmp_path)
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            pg = browser.new_page(viewport={"width": 1280, "height": 900})
            pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            pg.on("pageerror", lambda e: problems.append(str(e)))
            pg.goto(page_path.as_uri(), wait_until="load")
            widths = pg.evaluate("[document.documentElement.scrollWidth,"
                                 " document.documentElement.clientWidth]")
            assert widths[0] <= widths[1], widths
            assert pg.locator("svg.strip rect").count() == len(res.windows)
            sync_api.expect(pg.locator(".status")).to_contain_text(res.rollout.decision)
            sync_api.expect(pg.locator("h2", has_text="Alerts")).to_be_visible()
            assert pg.locator("svg.series").count() >= 3
            for box in pg.locator("svg").all():
                b = box.bounding_box()
                assert b is not None
                assert b["x"] + b["width"] <= 1280
            assert pg.evaluate(BROKEN_WORDS_JS) == []
            # On a phone the tables scroll sideways, a reason keeps its words whole and
            # the page itself is no wider than the screen.
            pg.set_viewport_size({"width": 400, "height": 900})
            widths = pg.evaluate("[document.documentElement.scrollWidth,"
                                 " document.documentElement.clientWidth]")
            assert widths[0] <= widths[1], widths
            assert pg.evaluate(BROKEN_WORDS_JS) == []
            reason = pg.locator("td.reason").first.bounding_box()
            assert reason is not None
            assert reason["width"] >= 250  # a readable column, not one word per line
        finally:
            browser.close()
    assert not problems, problems


def test_the_dashboards_monitoring_page_fits_and_runs_clean(tmp_path: Path) -> None:
    """The monitoring page of `mlscope serve` over real records, in a real browser: no
    console error under its Content Security Policy, nothing wider than 1,280 px, a cell
    per window, the slice charts folded until opened."""
    from mlscope.charter import charter_to_dict
    from mlscope.data.source import file_fingerprint, read_file
    from mlscope.store import Store
    from mlscope.store.records import charter_hash
    from tests.monitor_store_data import project
    from tests.test_server import running

    charter, first, _ = project(tmp_path)
    ch = load_charter(charter)
    res = monitor(ch, charter, read_file(first, "--log"), log_info=file_fingerprint(first))
    problems: list[str] = []
    with Store.open(tmp_path / "store.sqlite") as store:
        store.save_monitor(res.to_dict(), command="mlscope monitor",
                           charter_hash=charter_hash(charter_to_dict(ch)))
        with running(store) as base, sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                pg = browser.new_page(viewport={"width": 1280, "height": 900})
                pg.on("console",
                      lambda m: problems.append(m.text) if m.type == "error" else None)
                pg.on("pageerror", lambda e: problems.append(str(e)))
                pg.goto(base + "/p/monitor-test/monitoring", wait_until="load")
                assert pg.locator("svg.strip rect").count() == len(res.windows)
                sync_api.expect(pg.locator("#alerts")).to_contain_text("2026-01-04")
                slices = pg.locator("details", has_text="Per slice")
                assert not slices.locator("svg").first.is_visible()
                slices.locator("summary").click()
                assert slices.locator("svg").first.is_visible()
                # The shift charts: folded too; opened, one per feature and score, the
                # shifted feature's alerting day shaded.
                shift = pg.locator("details#shift")
                assert not shift.locator("svg").first.is_visible()
                shift.locator("summary").click()
                age = shift.locator('figure[aria-label="PSI of age"] svg')
                assert age.is_visible()
                assert age.locator("title", has_text=": alert").all_text_contents() == [
                    "01-04: alert"]
                assert shift.locator("svg.series").count() == 6  # 5 features, 1 score
                widths = pg.evaluate("[document.documentElement.scrollWidth,"
                                     " document.documentElement.clientWidth]")
                assert widths[0] <= widths[1], widths
                pg.screenshot(path=str(tmp_path / "monitoring.png"), full_page=True)
                # On a phone: the alerts scroll sideways, each reason in a readable
                # column with its words whole.
                pg.set_viewport_size({"width": 400, "height": 900})
                assert pg.evaluate(BROKEN_WORDS_JS) == []
                reason = pg.locator("#alerts td.reason").first.bounding_box()
                assert reason is not None
                assert reason["width"] >= 250
            finally:
                browser.close()
    assert not problems, problems


def test_regression_monitor_page_says_realised_only_and_fits_1280_px(tmp_path: Path) -> None:
    from tests.monitor_tasks_data import regression_population, regression_project

    rng = np.random.default_rng(51)
    path = regression_project(tmp_path, regression_population(2000, rng))
    windows = [regression_population(200, rng) for _ in range(4)]
    windows[2] = regression_population(200, rng, noise=1.8)
    res = monitor(load_charter(path), path, stamp(windows))
    page_path = write_monitor_html(res, tmp_path)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            pg = browser.new_page(viewport={"width": 1280, "height": 900})
            pg.goto(page_path.as_uri(), wait_until="load")
            widths = pg.evaluate("[document.documentElement.scrollWidth,"
                                 " document.documentElement.clientWidth]")
            assert widths[0] <= widths[1], widths
            sync_api.expect(pg.locator("h2", has_text="realised once labels arrive")
                            ).to_be_visible()
            sync_api.expect(pg.locator("body")).to_contain_text(
                "No label-free estimate for regression")
            sync_api.expect(pg.locator("td", has_text="performance").first).to_be_visible()
        finally:
            browser.close()
