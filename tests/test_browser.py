"""The dashboard in a real browser: headless Chromium driven by Playwright.

Uses the system's Chromium (Playwright never downloads a browser here) and skips when there
is none. The store holds two runs of one project with the charter edited between them
(see :func:`tests.test_server.two_run_store`). Every test fails on any console error or
uncaught page error: a page that renders but throws is broken.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlscope.store import Store
from tests.test_server import PROJECT, running, two_run_store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("no chromium on this machine (the browser tests use the system browser)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (pip install playwright)")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = two_run_store(tmp_path_factory.mktemp("browser"))
    with Store.open(path, create=False) as store, running(store) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def problems() -> list[str]:
    """Console errors and uncaught exceptions of the test's page."""
    return []


@pytest.fixture
def page(browser: sync_api.Browser, problems: list[str]) -> Iterator[sync_api.Page]:
    """A fresh page; the test fails if the page logged an error or threw."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
          if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    yield pg
    context.close()
    assert not problems, "\n".join(problems)


def _goto(page: sync_api.Page, url: str) -> None:
    resp = page.goto(url, wait_until="load")
    assert resp is not None, url
    assert resp.status == 200, url


def test_root_opens_the_project_with_its_decision_and_runs(page: sync_api.Page,
                                                           base: str) -> None:
    _goto(page, base + "/")
    assert page.url == f"{base}/p/{PROJECT}"
    winner = page.locator(".winner-name")
    sync_api.expect(winner).to_be_visible()
    sync_api.expect(winner).to_have_text("good")
    sync_api.expect(page.locator("#requirements")).to_be_visible()
    sync_api.expect(page.locator("#confidence")).to_contain_text("chosen in")
    rows = page.locator("#runs tbody tr")
    sync_api.expect(rows).to_have_count(2)
    for i in range(2):
        sync_api.expect(rows.nth(i)).to_be_visible()
    sync_api.expect(rows.first).to_contain_text("charter edited")
    sync_api.expect(rows.first).to_contain_text("new models: fair")


def test_history_chart_has_a_line_per_model(page: sync_api.Page, base: str) -> None:
    _goto(page, f"{base}/p/{PROJECT}/history?metric=roc_auc")
    chart = page.locator("#history-chart svg.history")
    sync_api.expect(chart).to_be_visible()
    lines = chart.locator("path.series")
    sync_api.expect(lines).to_have_count(4)  # good, fair, weak and the prior baseline
    models = sorted(lines.nth(i).get_attribute("data-model") or "" for i in range(4))
    assert models == ["fair", "good", "prior", "weak"]
    # A line spans the runs the model has values in: both runs for good, one for fair.
    good = chart.locator("path.series[data-model=good]").bounding_box()
    assert good is not None
    assert good["width"] > 100
    fair = chart.locator("path.series[data-model=fair]").get_attribute("d") or ""
    assert fair.startswith("M")
    assert "L" not in fair
    sync_api.expect(chart.locator("g.change")).to_have_count(1)
    sync_api.expect(chart).to_contain_text("requirement ≥ 0.650")
    # The metric selector: a tab per metric, and it switches the chart.
    page.get_by_role("link", name="Log loss", exact=True).click()
    page.wait_for_load_state("load")
    assert "metric=log_loss" in page.url
    sync_api.expect(page.locator("#history-chart svg.history")).to_contain_text(
        "Log loss over runs")


def test_history_model_chooser_narrows_the_chart(page: sync_api.Page, base: str) -> None:
    _goto(page, f"{base}/p/{PROJECT}/history?metric=roc_auc")
    page.locator("input[name=model][value=weak]").uncheck()
    page.locator("input[name=model][value=prior]").uncheck()
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state("load")
    sync_api.expect(page.locator("svg.history path.series")).to_have_count(2)


def _row_order(page: sync_api.Page) -> list[str]:
    return [r.get_attribute("data-model") or ""
            for r in page.locator("#metric-table tbody tr").all()]


def test_run_page_sorts_and_links_to_the_report(page: sync_api.Page, base: str) -> None:
    _goto(page, f"{base}/p/{PROJECT}")
    page.locator("#runs tbody tr").last.get_by_role("link").click()  # the older run
    page.wait_for_load_state("load")
    sync_api.expect(page.locator("h1")).to_contain_text("Run #1")
    _goto(page, f"{base}/runs/2")
    sync_api.expect(page.locator("#metric-table")).to_be_visible()
    sync_api.expect(page.locator("svg.tradeoff")).to_be_visible()
    sync_api.expect(page.locator("svg.heatmap")).to_be_visible()
    sync_api.expect(page.locator("#baselines")).to_be_visible()
    before = _row_order(page)
    assert before == ["good", "fair", "weak", "prior"]
    header = page.locator("#metric-table thead th", has_text="ROC AUC")
    header.click()
    sync_api.expect(header).to_have_attribute("aria-sort", "ascending")
    after = _row_order(page)
    assert after != before
    assert sorted(after) == sorted(before)
    assert after[-1] == "good"
    assert after[0] == "prior"
    header.click()
    sync_api.expect(header).to_have_attribute("aria-sort", "descending")
    assert _row_order(page)[0] == "good"
    page.locator("#report-link").click()
    page.wait_for_load_state("load")
    assert page.url == f"{base}/runs/2/report"
    sync_api.expect(page.locator("#decision")).to_be_visible()
    sync_api.expect(page.locator("h1")).to_be_visible()


def test_error_pages_render_cleanly(page: sync_api.Page, base: str,
                                    problems: list[str]) -> None:
    resp = page.goto(f"{base}/runs/999")
    assert resp is not None
    assert resp.status == 404
    sync_api.expect(page.locator(".error-code")).to_have_text("404")
    sync_api.expect(page.locator("h1")).to_have_text("No run #999")
    # Chromium logs the 404 itself as a console error: expected here, and the only one.
    assert len(problems) == 1, problems
    assert "404" in problems[0], problems
    problems.clear()


def test_brief_page_loads_fits_1280_and_shows_the_evidence(
        browser: sync_api.Browser, base: str, problems: list[str]) -> None:
    """The project brief (issue 15): linked from the overview, no element wider than the
    window at 1280 px, the evidence found and missing both shown."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
          if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    try:
        _goto(pg, f"{base}/p/{PROJECT}")
        pg.get_by_role("link", name="Project brief").click()
        pg.wait_for_load_state("load")
        assert pg.url == f"{base}/p/{PROJECT}/brief"
        for sid in ("brief-goal", "brief-requirements", "brief-baselines",
                    "brief-feasibility", "brief-failures", "brief-rollout", "brief-evidence",
                    "brief-open"):
            sync_api.expect(pg.locator(f"#{sid}")).to_be_visible()
        sync_api.expect(pg.locator("#brief-found")).to_have_text("Evidence found")
        sync_api.expect(pg.locator("#brief-missing")).to_have_text("Evidence missing")
        assert pg.locator("#brief-found + ul li").count() > 0
        assert pg.locator("#brief-missing + ul li").count() > 0
        # A requirement value of the latest run is shown (the figures come from it).
        sync_api.expect(pg.locator("#brief-requirements td.num").first).not_to_have_text("—")
        wide = pg.evaluate("""() => {
            const w = document.documentElement.clientWidth;
            return [...document.querySelectorAll('body *')]
              .filter(e => e.getBoundingClientRect().right > w + 0.5)
              .map(e => e.tagName + '.' + e.className);
        }""")
        assert wide == [], wide
        assert pg.evaluate("document.documentElement.scrollWidth") <= 1280
    finally:
        context.close()
    assert not problems, "\n".join(problems)
