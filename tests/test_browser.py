"""The dashboard in a real browser: headless Chromium driven by Playwright.

Uses the system's Chromium (Playwright never downloads a browser here) and skips when there
is none. The store holds two runs of one project with the charter edited between them
(see :func:`tests.test_server.two_run_store`). Every test fails on any console error or
uncaught page error: a page that renders but throws is broken.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlscope.store import Store
from tests.browser_checks import BROKEN_WORDS_JS
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


@pytest.mark.parametrize("width", [1280, 400])
def test_the_brief_breaks_no_word(browser: sync_api.Browser, problems: list[str],
                                  tmp_path: Path, width: int) -> None:
    """The standalone brief of the Caravan charter, on a desktop and on a phone: no
    identifier (``cheap_prediction``) nor word of an answer is cut across two lines. A
    table too wide for a phone scrolls instead; an answer wraps beside its question."""
    from mlscope.charter import load_charter
    from mlscope.plan.brief import compose_brief
    from mlscope.report.brief import brief_html
    from tests.test_plan import CARAVAN

    page_file = tmp_path / "brief.html"
    page_file.write_text(brief_html(compose_brief(load_charter(CARAVAN))), encoding="utf-8")
    context = browser.new_context(viewport={"width": width, "height": 900})
    pg = context.new_page()
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    try:
        pg.goto(page_file.as_uri(), wait_until="load")
        sync_api.expect(pg.locator("#brief-archetype dd").first).to_be_visible()
        assert pg.locator("#brief-feasibility td code").count() > 5
        assert pg.evaluate(BROKEN_WORDS_JS) == []
        # The check sees a break: a word in a cell too narrow for it.
        pg.set_content("<p style='width:3ch;overflow-wrap:anywhere'>feasibility</p>")
        assert pg.evaluate(BROKEN_WORDS_JS) == ["feasibility"]
    finally:
        context.close()
    assert not problems, "\n".join(problems)


# -- layout at 1,280 px: nothing runs off the page, no two chart labels overlap ----------------

WIDTH = 1280
LONG_NAMES = ["gradient_boosting_all_features", "logistic_regression_l2", "random_forest_500",
              "k_nearest_neighbours", "naive_bayes_gaussian", "gradient_boosting_v2_tuned",
              "support_vector_machine_rbf", "hard_rule_zero_one"]

# Every element's right edge within the viewport, unless a horizontal scroller (a wide
# table's wrapper, a chart's figure) holds it; and, per SVG chart, every pair of visible
# <text> bounding boxes apart by more than 1 px in one direction at least.
LAYOUT_JS = """() => {
  const W = window.innerWidth, out = {scrollWidth: document.documentElement.scrollWidth,
                                      overflow: [], overlaps: [], charts: 0};
  const scrolled = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if ((r.width || r.height) && r.right > W + 0.5 && !scrolled(el))
      out.overflow.push(el.tagName + '.' + (el.getAttribute('class') || '') + ' right=' +
                        Math.round(r.right));
  }
  document.querySelectorAll('svg').forEach((svg) => {
    out.charts += 1;
    const ts = Array.from(svg.querySelectorAll('text')).filter((t) =>
      t.textContent.trim() && t.getBoundingClientRect().width > 0);
    const rs = ts.map((t) => t.getBoundingClientRect());
    for (let i = 0; i < ts.length; i++) for (let j = i + 1; j < ts.length; j++) {
      const a = rs[i], b = rs[j];
      const ox = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const oy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (ox > 1 && oy > 1)
        out.overlaps.push((svg.getAttribute('class') || 'svg') + ': "' + ts[i].textContent +
                          '" over "' + ts[j].textContent + '"');
    }
  });
  return out;
}"""


def wide_store(folder: Path) -> Path:
    """Two runs of a Caravan-like project: ten models with long names, two trivial baselines,
    a published figure, thirteen metrics and a model whose 0/1 scores put its log loss far
    out (about 17); the charter's requirement is tightened between the runs."""
    import numpy as np
    import yaml

    import mlscope
    from tests.conftest import base_charter, binary_frame

    folder.mkdir(parents=True, exist_ok=True)
    df = binary_frame(n=900)
    rng = np.random.default_rng(3)
    latent = df["label"] * 1.0 + rng.normal(size=len(df))
    for k, name in enumerate(LONG_NAMES[:-1]):
        s = 1 / (1 + np.exp(-(latent + rng.normal(scale=0.5 + 0.25 * k, size=len(df)))))
        df[f"p_{name}"] = np.round(s * 50) / 50
    df[f"p_{LONG_NAMES[-1]}"] = (df["balance"] > 2500).astype(float)  # 0/1: log loss ≈ 17
    models = {"good": "p_good", "fair": "p_fair", **{n: f"p_{n}" for n in LONG_NAMES}}
    df.to_parquet(folder / "eval.parquet", index=False)
    path = folder / "store.sqlite"
    with Store.open(path) as store:
        for bound in (">= 0.6", ">= 0.62"):
            c = base_charter(project="caravan-like")
            c["data"]["models"] = models
            c["metrics"] = [*c["metrics"], "balanced_accuracy", "mcc", "specificity", "ece",
                            {"metric": "precision_at_recall", "recall": 0.5}]
            c["requirements"] = {"roc_auc": bound, "recall": ">= 0.3"}
            c["baselines"] = {"prior": {"kind": "prior"}, "majority": {"kind": "majority"},
                              "paper": {"kind": "external", "values": {"roc_auc": 0.61},
                                        "source": "a published figure",
                                        "data": "another cohort", "same_data": False}}
            text = yaml.safe_dump(c, sort_keys=False)
            (folder / "mlscope.yaml").write_text(text, encoding="utf-8")
            store.save(mlscope.evaluate(folder / "mlscope.yaml"),
                       command="mlscope run mlscope.yaml", charter_text=text)
    return path


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = wide_store(tmp_path_factory.mktemp("wide"))
    with Store.open(path, create=False) as store, running(store) as url:
        yield url


@pytest.fixture
def narrow(browser: sync_api.Browser, problems: list[str]) -> Iterator[sync_api.Page]:
    """A page 1,280 px wide; like ``page``, it fails on console errors."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    pg = context.new_page()
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
          if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    yield pg
    context.close()
    assert not problems, "\n".join(problems)


WIDE_PAGES = ["/runs/2/report", "/p/caravan-like", "/p/caravan-like/brief",
              "/p/caravan-like/history",
              "/p/caravan-like/history?metric=log_loss", "/runs/2", "/runs/1",
              "/runs/2?split=test"]


@pytest.mark.parametrize("path", WIDE_PAGES)
def test_pages_fit_1280_px_and_chart_labels_never_overlap(narrow: sync_api.Page, wide: str,
                                                          path: str) -> None:
    _goto(narrow, wide + path)
    got = narrow.evaluate(LAYOUT_JS)
    assert got["charts"] >= 1 or path in ("/p/caravan-like", "/p/caravan-like/brief"), path
    assert got["scrollWidth"] <= WIDTH, (path, got["scrollWidth"], got["overflow"][:10])
    assert not got["overflow"], (path, got["overflow"][:10])
    assert not got["overlaps"], (path, got["overlaps"][:10])


PHONE = 400


@pytest.mark.parametrize("path", WIDE_PAGES)
def test_pages_fit_a_phone_with_words_whole(browser: sync_api.Browser, problems: list[str],
                                            wide: str, path: str) -> None:
    """At 400 px: nothing but a scroller (a wide table, a chart's figure) is wider than the
    screen, chart grids fold to one column, and no word is cut across two lines."""
    context = browser.new_context(viewport={"width": PHONE, "height": 900})
    pg = context.new_page()
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    try:
        _goto(pg, wide + path)
        got = pg.evaluate(LAYOUT_JS)
        assert got["scrollWidth"] <= PHONE, (path, got["scrollWidth"], got["overflow"][:10])
        assert not got["overflow"], (path, got["overflow"][:10])
        assert pg.evaluate(BROKEN_WORDS_JS) == [], path
    finally:
        context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page_file", ["portfolio.html", "caravan-campaign/brief.html"])
def test_the_portfolio_example_fits_a_phone(browser: sync_api.Browser, problems: list[str],
                                            page_file: str) -> None:
    """The committed portfolio example (``mlscope plan examples/portfolio/portfolio.yaml``)
    at 400 px: its tables scroll instead of widening the page, words whole."""
    from tests.test_brief import PORTFOLIO

    context = browser.new_context(viewport={"width": PHONE, "height": 900})
    pg = context.new_page()
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    try:
        pg.goto((PORTFOLIO / "out" / page_file).as_uri(), wait_until="load")
        got = pg.evaluate(LAYOUT_JS)
        assert got["scrollWidth"] <= PHONE, (got["scrollWidth"], got["overflow"][:10])
        assert not got["overflow"], got["overflow"][:10]
        assert pg.evaluate(BROKEN_WORDS_JS) == []
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_the_narrow_checks_catch_what_they_look_for(narrow: sync_api.Page) -> None:
    """The layout script flags a too-wide table and two labels on each other."""
    narrow.set_content(
        "<body style='margin:0'><table style='width:1700px'><tr><td>x</td></tr></table>"
        "<div style='overflow-x:auto'><table style='width:1700px'><tr><td>y</td></tr>"
        "</table></div><svg width='300' height='60'><text x='10' y='20'>gbdt</text>"
        "<text x='14' y='22'>forest</text><text x='10' y='50'>alone</text></svg></body>")
    got = narrow.evaluate(LAYOUT_JS)
    assert got["scrollWidth"] > WIDTH
    assert [o.split(" ")[0] for o in got["overflow"]] == ["TABLE.", "TBODY.", "TR.", "TD."]
    assert got["overlaps"] == ['svg: "gbdt" over "forest"']


def test_model_toggle_hides_a_model_in_the_trade_off(narrow: sync_api.Page, wide: str) -> None:
    _goto(narrow, wide + "/runs/2")
    point = narrow.locator("svg.tradeoff g.point[data-model=good]")
    sync_api.expect(point).to_be_visible()
    title = point.locator("title").text_content() or ""
    assert re.fullmatch(r"good: .+ \[.+\]; .+ \[.+\]; n = [0-9,]+", title), title
    narrow.locator("fieldset.toggles input[data-toggle=good]").uncheck()
    sync_api.expect(point).to_be_hidden()
    sync_api.expect(narrow.locator("svg.tradeoff text[data-model=good]")).to_be_hidden()
    sync_api.expect(narrow.locator("svg.tradeoff g.point[data-model=fair]")).to_be_visible()
    narrow.locator("fieldset.toggles input[data-toggle=good]").check()
    sync_api.expect(point).to_be_visible()


def test_what_changed_names_the_charter_keys(narrow: sync_api.Page, wide: str) -> None:
    _goto(narrow, wide + "/p/caravan-like")
    row = narrow.locator("#runs tbody tr[data-run='2']")
    sync_api.expect(row).to_contain_text("charter edited")
    sync_api.expect(row.locator("ul.cdiff")).to_have_text(
        'requirements.roc_auc: ">= 0.6" → ">= 0.62"')
    _goto(narrow, wide + "/runs/2")
    sync_api.expect(narrow.locator("ul.cdiff")).to_contain_text("requirements.roc_auc")
