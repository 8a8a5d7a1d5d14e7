"""A crafted run's pages in a real browser: no injected script runs.

The store of :mod:`tests.hostile.test_web` (a clean run, then a row rewritten in the
database with script in every string field) is served and its report and run pages are
opened in headless Chromium, as in :mod:`tests.test_browser` (skipped without Chromium or
Playwright). Every payload sets ``window.__xss``; it must stay undefined. The only console
errors allowed are the Content Security Policy's reports of what it blocked.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlscope.store import Store
from tests.hostile.test_web import PROJECT, clean, hostile_store  # noqa: F401 (fixtures)
from tests.test_browser import browser, sync_api  # noqa: F401 (a fixture; skips the module)
from tests.test_server import running


@pytest.fixture(scope="module")
def base(hostile_store: tuple[Store, int]) -> Iterator[str]:  # noqa: F811
    with running(hostile_store[0]) as url:
        yield url


def test_crafted_pages_run_no_injected_script(
        browser: sync_api.Browser,  # noqa: F811
        base: str,
        hostile_store: tuple[Store, int],  # noqa: F811
) -> None:
    rid = hostile_store[1]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    try:
        for path in (f"/runs/{rid}/report", f"/runs/{rid}", f"/p/{PROJECT}",
                     f"/p/{PROJECT}/history"):
            resp = page.goto(base + path, wait_until="load")
            assert resp is not None
            assert resp.status == 200, path
            page.wait_for_timeout(200)  # an onload or an error handler would have run
            assert page.evaluate("typeof window.__xss") == "undefined", path
        # The report's own script still runs: a click sorts a table.
        page.goto(f"{base}/runs/{rid}/report", wait_until="load")
        header = page.locator("table.sortable th[data-col]").first
        header.click()
        assert header.get_attribute("aria-sort") in ("ascending", "descending")
        assert page.locator("svg.chart.history").count() == 1
        assert page.locator("svg.learning-curve").count() == 1
    finally:
        context.close()
    others = [e for e in errors if "Content Security Policy" not in e]
    assert not others, "\n".join(others)
