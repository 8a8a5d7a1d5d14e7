"""The dashboard over HTTP: pages, status codes, errors, binding, and speed on a big store.

A real :class:`~mlscope.store.Store` is filled with real results (``mlscope.evaluate`` on a
small generated table, twice, the charter edited in between), a server is started on a
free port in a thread, and pages are fetched with the standard library's HTTP client.
"""

from __future__ import annotations

import dataclasses
import http.client
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import yaml

import mlscope
from mlscope.report import render_html
from mlscope.result import OVERALL, EvaluationResult
from mlscope.server import create_server, is_loopback, serve
from mlscope.server.app import DashboardServer
from mlscope.server.charts import history_chart, slice_heatmap
from mlscope.store import Store
from tests.conftest import base_charter, binary_frame
from tests.factories import make_result

PROJECT = "test-project"


# -- helpers shared with tests/test_browser.py ----------------------------------------------


def charter_v1() -> dict[str, Any]:
    c = base_charter()
    c["data"]["models"] = {"good": "p_good", "weak": "p_weak"}
    return c


def charter_v2() -> dict[str, Any]:
    """The charter edited: a new model, a tighter requirement, two baselines."""
    c = base_charter()
    c["data"]["models"] = {"good": "p_good", "fair": "p_fair", "weak": "p_weak"}
    c["requirements"] = {"roc_auc": ">= 0.65", "recall": ">= 0.3"}
    c["baselines"] = {"prior": {"kind": "prior"},
                      "paper": {"kind": "external", "values": {"roc_auc": 0.9},
                                "source": "a published figure", "data": "another cohort",
                                "same_data": False}}
    return c


def two_run_store(folder: Path) -> Path:
    """A store holding two runs of one project, the charter edited between them."""
    folder.mkdir(parents=True, exist_ok=True)
    binary_frame().to_parquet(folder / "eval.parquet", index=False)
    path = folder / "store.sqlite"
    with Store.open(path) as store:
        for charter in (charter_v1(), charter_v2()):
            text = yaml.safe_dump(charter, sort_keys=False)
            (folder / "mlscope.yaml").write_text(text, encoding="utf-8")
            result = mlscope.evaluate(folder / "mlscope.yaml")
            store.save(result, command="mlscope run mlscope.yaml", charter_text=text)
    return path


@contextmanager
def running(store: Any, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``store`` on a free port in a thread; yields the base URL (no trailing /)."""
    server = create_server(store, host=host, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclasses.dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


def fetch(url: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> Reply:
    """One request, redirects not followed (a redirect is what some tests check)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target or "/", headers=headers or {})
        resp = conn.getresponse()
        body = resp.read().decode("utf-8")
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_run_store(tmp_path_factory.mktemp("dash"))


@pytest.fixture(scope="module")
def store(store_path: Path) -> Iterator[Store]:
    with Store.open(store_path, create=False) as s:
        yield s


@pytest.fixture(scope="module")
def url(store: Store) -> Iterator[str]:
    with running(store) as base:
        yield base


# -- pages -----------------------------------------------------------------------------------


def test_healthz(url: str) -> None:
    r = fetch(url + "/healthz")
    assert (r.status, r.body.strip()) == (200, "ok")
    assert r.headers["content-type"].startswith("text/plain")


def test_root_redirects_to_the_only_project(url: str) -> None:
    r = fetch(url + "/")
    assert r.status == 302
    assert r.headers["location"] == f"/p/{PROJECT}"


def test_overview_leads_with_the_latest_decision(url: str, store: Store) -> None:
    latest = store.runs(PROJECT, limit=1)[0]
    result = store.result(latest.id)
    r = fetch(f"{url}/p/{PROJECT}")
    assert r.status == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert f'data-winner="{result.winner}"' in r.body
    assert "Satisficing rule" in r.body
    # The launch verdict leads the project's page, as it leads the run's and the report.
    assert result.verdict is not None
    assert f'data-verdict="{result.verdict.kind}"' in r.body
    assert r.body.index("Should we ship?") < r.body.index("Latest decision")
    assert "Requirements met" in r.body or "Requirements not met" in r.body
    # Every requirement of the latest run, met or not.
    table = r.body[r.body.index('id="requirements"'):]
    assert table.count("data-met=") == len(result.requirements) == 2
    # Decision confidence and the gap closed against the baselines come from the result.
    assert result.selection is not None
    assert result.selection.confidence is not None
    assert "Decision confidence" in r.body
    auc = next(s for s in result.standings if s.model == result.winner
               and s.metric == "roc_auc" and s.split == "validation")
    # The only upper figure, `paper`, was measured on other data: a reference line, never
    # the ceiling (it used to be, which was the bug of issue 12 item 12), so no gap closed.
    assert auc.gap_closed is None
    assert "no upper baseline above the trivial one" in r.body
    assert "`paper` (0.9) was measured on other data (another cohort)" in r.body


def test_overview_lists_both_runs_newest_first_with_what_changed(url: str,
                                                                 store: Store) -> None:
    ids = [s.id for s in store.runs(PROJECT)]
    body = fetch(f"{url}/p/{PROJECT}").body
    runs = re.findall(r'<tr data-run="(\d+)">', body)
    assert [int(x) for x in runs] == ids
    assert ids == sorted(ids, reverse=True)
    assert "charter edited" in body
    assert "new models: fair" in body


def test_history_draws_a_line_per_model_with_requirement_and_changes(url: str) -> None:
    r = fetch(f"{url}/p/{PROJECT}/history?metric=roc_auc")
    assert r.status == 200
    svg = r.body[r.body.index('<svg xmlns="http://www.w3.org/2000/svg" class="chart history"'):]
    svg = svg[: svg.index("</svg>")]
    drawn = re.findall(r'class="series" data-model="([^"]+)" data-kind="(\w+)"', svg)
    # The latest run's candidates, and its trivial baseline (dashed).
    assert sorted(drawn) == [("fair", "candidate"), ("good", "candidate"),
                             ("prior", "baseline"), ("weak", "candidate")]
    assert "requirement ≥ 0.650" in svg  # from the latest charter
    assert "paper (external) 0.900" in svg  # the fixed upper baseline
    assert 'class="change"' in svg
    assert "charter edited; new models: fair" in svg
    assert 'class="band"' in svg  # intervals


def test_history_metric_selector_and_models(url: str) -> None:
    r = fetch(f"{url}/p/{PROJECT}/history?metric=log_loss&model=good&model=weak")
    assert r.status == 200
    assert re.findall(r'class="series" data-model="([^"]+)"', r.body) == ["good", "weak"]
    for metric in ("roc_auc", "log_loss", "f1_best"):  # one tab per metric
        assert f"metric={metric}" in r.body
    assert "Log loss over runs" in r.body


def test_history_of_a_split(url: str) -> None:
    r = fetch(f"{url}/p/{PROJECT}/history?metric=recall&split=test&last=all")
    assert r.status == 200
    assert "on the test split" in r.body


def test_run_page(url: str, store: Store) -> None:
    latest = store.runs(PROJECT, limit=1)[0]
    result = store.result(latest.id)
    r = fetch(f"{url}/runs/{latest.id}")
    assert r.status == 200
    rows = re.findall(r'<tr class="[^"]*" data-model="([^"]+)">', r.body)
    assert rows == [m.name for m in result.models]
    assert 'table class="data sortable" id="metric-table"' in r.body
    assert r.body.count('data-col="') == len(result.metrics) + 1
    assert 'class="chart tradeoff"' in r.body  # the trade-off, with the Pareto front
    assert "Pareto front" in r.body
    assert 'class="chart heatmap"' in r.body
    heat = r.body[r.body.index('class="chart heatmap"'):]
    assert all(f"{level}</text>" in heat for level in ("north", "south", "ios", "web"))
    assert 'id="baselines"' in r.body  # the second run has baselines
    assert f'href="/runs/{latest.id}/report"' in r.body
    assert "<script>" in r.body  # the sort script, inline


def test_run_page_on_another_split(url: str, store: Store) -> None:
    rid = store.runs(PROJECT, limit=1)[0].id
    r = fetch(f"{url}/runs/{rid}?split=test")
    assert r.status == 200
    assert "On the test split" in r.body


def test_report_is_the_cli_report(url: str, store: Store) -> None:
    first = store.runs(PROJECT)[-1]
    r = fetch(f"{url}/runs/{first.id}/report")
    assert r.status == 200
    assert r.body == render_html(store.result(first.id))


def test_pages_reference_nothing_outside(url: str, store: Store) -> None:
    rid = store.runs(PROJECT, limit=1)[0].id
    for path in (f"/p/{PROJECT}", f"/p/{PROJECT}/history", f"/runs/{rid}",
                 f"/runs/{rid}/report", "/nope"):
        r = fetch(url + path)
        assert not re.search(r'(src|href|action)="(https?:)?//', r.body), path
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    pytest.param("/runs/9999", id="unknown-run"),
    pytest.param("/runs/9999/report", id="unknown-run-report"),
    pytest.param("/p/no-such-project", id="unknown-project"),
    pytest.param("/p/no-such-project/history", id="unknown-project-history"),
    pytest.param("/nothing/here", id="unknown-path"),
    pytest.param("/runs/abc", id="run-id-not-a-number"),
    pytest.param(f"/p/{PROJECT}?page=2", id="page-past-the-end"),
])
def test_not_found(url: str, path: str) -> None:
    r = fetch(url + path)
    assert r.status == 404
    assert r.headers["content-type"].startswith("text/html")
    assert '<p class="error-code">404</p>' in r.body
    assert 'href="/"' in r.body


@pytest.mark.parametrize(("path", "says"), [
    pytest.param(f"/p/{PROJECT}?page=0", "at least 1", id="page-zero"),
    pytest.param(f"/p/{PROJECT}?page=two", "whole number", id="page-not-a-number"),
    pytest.param(f"/p/{PROJECT}/history?metric=roc_acu", "did you mean `roc_auc`?",
                 id="unknown-metric"),
    pytest.param(f"/p/{PROJECT}/history?split=holdout", "unknown split", id="unknown-split"),
    pytest.param(f"/p/{PROJECT}/history?last=7", "unknown last", id="bad-window"),
    pytest.param(f"/p/{PROJECT}/history?model=gbdt", "unknown model", id="unknown-model"),
    pytest.param(f"/p/{PROJECT}/history?metric=roc_auc&metric=brier", "given 2 times",
                 id="metric-twice"),
    pytest.param("/runs/1?split=holdout", "unknown split", id="run-unknown-split"),
])
def test_bad_query_is_400(url: str, path: str, says: str) -> None:
    r = fetch(url + path)
    assert r.status == 400
    assert says in r.body
    assert '<p class="error-code">400</p>' in r.body


def test_head_and_other_methods(url: str) -> None:
    head = fetch(f"{url}/p/{PROJECT}", method="HEAD")
    assert head.status == 200
    assert head.body == ""
    assert int(head.headers["content-length"]) > 1000
    post = fetch(f"{url}/p/{PROJECT}", method="POST")
    assert post.status == 405
    assert post.headers["allow"] == "GET, HEAD"


def test_foreign_host_header_is_refused(url: str) -> None:
    # A web page could rebind its own name to 127.0.0.1 and read a loopback dashboard.
    r = fetch(f"{url}/p/{PROJECT}", headers={"Host": "attacker.example:80"})
    assert r.status == 400
    assert "Unexpected Host header" in r.body
    assert fetch(f"{url}/healthz", headers={"Host": "localhost:1234"}).status == 200


def test_project_names_are_quoted(tmp_path: Path, store: Store) -> None:
    result = store.result(store.runs(PROJECT, limit=1)[0].id)
    odd = "churn / EU & UK"
    with Store.open(tmp_path / "s.sqlite") as s:
        s.save(dataclasses.replace(result, project=odd), command="run")
        s.save(result, command="run")
        with running(s) as base:
            home = fetch(base + "/")
            assert home.status == 200  # several projects: a list
            href = f"/p/{quote(odd, safe='')}"
            assert f'href="{href}"' in home.body
            assert "churn / EU &amp; UK" in home.body
            assert fetch(base + href).status == 200
            assert fetch(base + href + "/history").status == 200


def test_an_empty_store(tmp_path: Path) -> None:
    with Store.open(tmp_path / "empty.sqlite") as s, running(s) as base:
        r = fetch(base + "/")
        assert r.status == 200
        assert "No runs stored yet" in r.body


def test_a_broken_store_is_a_500_page(store: Store) -> None:
    class Broken:
        def __getattr__(self, name: str) -> Callable[..., Any]:
            def fail(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("disk on fire")
            return fail

    with running(Broken()) as base:
        r = fetch(base + "/p/x")
        assert r.status == 500
        assert "disk on fire" in r.body
        assert fetch(base + "/healthz").status == 200  # still serving


# -- binding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("", False), ("::", False), ("192.168.1.20", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_binding_beyond_loopback_warns(store: Store, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    quiet = create_server(store, host="127.0.0.1", port=0)
    quiet.server_close()
    assert capsys.readouterr().err == ""
    loud = create_server(store, host="0.0.0.0", port=0)
    try:
        err = capsys.readouterr().err
        assert "warning" in err
        assert "no authentication" in err
        # Still only its own names: a rebinding page names its own host (issue 11).
        assert "localhost" in loud.allowed_hosts
        assert "attacker.example" not in loud.allowed_hosts
    finally:
        loud.server_close()


def test_port_zero_picks_a_free_port(store: Store) -> None:
    server = create_server(store, port=0)
    try:
        assert isinstance(server, DashboardServer)
        assert server.server_address[1] > 0
        assert server.url == f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.server_close()


def test_serve_prints_where_and_stops_on_ctrl_c(store: Store, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    opened: list[str] = []
    closed: list[bool] = []

    def interrupted(self: DashboardServer, *args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(DashboardServer, "serve_forever", interrupted)
    monkeypatch.setattr(DashboardServer, "server_close",
                        lambda self: closed.append(True) or self.socket.close())
    monkeypatch.setattr("webbrowser.open", opened.append)
    serve(store, port=0, open_browser=True)
    err = capsys.readouterr().err
    assert re.search(r"mlscope dashboard: http://127\.0\.0\.1:\d+/", err)
    assert len(opened) == 1
    assert opened[0] in err
    assert closed == [True]


def test_concurrent_requests(url: str, store: Store) -> None:
    rid = store.runs(PROJECT, limit=1)[0].id
    paths = [f"/p/{PROJECT}", f"/p/{PROJECT}/history", f"/runs/{rid}", "/healthz"] * 6
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda p: fetch(url + p).status, paths))
    assert statuses == [200] * len(paths)


# -- the dashboard's charts ------------------------------------------------------------------


def _history(points: list[tuple[int, float | None]]) -> str:
    from mlscope.server.charts import HistoryData, HistoryPointView, HistorySeries

    info = make_result().metric_info("roc_auc")
    series = HistorySeries("a", "candidate", "a", "#0072B2",
                           [HistoryPointView(x, 10 + x, v, None, None) for x, v in points])
    runs = [(10 + x, "2025-01-01") for x in range(3)]
    return history_chart(HistoryData(info, "validation", runs, [series]))


def test_history_line_breaks_where_a_run_lacks_the_model() -> None:
    svg = _history([(0, 0.7), (2, 0.8)])  # nothing in the middle run
    d = re.search(r'd="([^"]+)" [^>]*class="series"', svg)
    assert d is not None
    assert d.group(1).count("M") == 2
    assert "L" not in d.group(1)
    assert svg.count("<circle") == 2  # both lone points are still drawn
    joined = re.search(r'd="([^"]+)" [^>]*class="series"', _history([(0, 0.7), (1, 0.8)]))
    assert joined is not None
    assert joined.group(1).count("M") == 1


def test_charts_are_well_formed_xml(store: Store) -> None:
    result = store.result(store.runs(PROJECT, limit=1)[0].id)
    ET.fromstring(_history([(0, 0.7), (1, None), (2, 0.8)]))
    ET.fromstring(slice_heatmap(result, metric="roc_auc", split="validation"))


@pytest.mark.parametrize("metric", ["roc_auc", "log_loss"])
def test_heatmap_colours_follow_the_metric_direction(store: Store, metric: str) -> None:
    """Blue is better and vermillion worse than the reference, whatever the direction."""
    result = store.result(store.runs(PROJECT, limit=1)[0].id)
    svg = slice_heatmap(result, metric=metric, split="validation")
    cells = re.findall(r'<g class="cell"><title>[^<]* ([+−])[0-9.]+ vs good overall</title>'
                       r'<rect [^>]*fill="#([0-9a-f]{6})"', svg)
    assert len(cells) > 20
    for sign, fill in cells:
        red, blue = int(fill[:2], 16), int(fill[4:], 16)
        if fill != "ffffff":
            assert (blue > red) == (sign == "+"), (sign, fill)


# -- a big store: what each page reads ------------------------------------------------------


class CountingStore:
    """Passes every call to the store, counting the full results read."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.results: list[int] = []

    def result(self, run_id: int) -> EvaluationResult:
        self.results.append(run_id)
        return self.store.result(run_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_pages_on_a_store_of_1000_runs_read_one_full_result(tmp_path: Path) -> None:
    """1,000 runs of 20 models; the latest with 56 slices (17,920 values).

    What keeps the pages fast, checked without a clock (a clock in a unit test fails on a
    loaded machine): no page reads an older run's full result, so the older runs are
    saved without slices (their summaries and history rows are what the pages read, and
    those are the same); a counting proxy checks that only the latest result is ever read,
    once. The store's own reads are checked in test_store (one indexed query each).
    """
    big = make_result(n_models=20, levels=(10, 4))
    assert len(big.models) == 20
    assert len([s for s in big.slices if s.kind != OVERALL]) >= 50
    light = dataclasses.replace(big, values=[v for v in big.values if v.slice == OVERALL],
                                slices=[s for s in big.slices if s.kind == OVERALL],
                                differences=[])
    gone = light.models[-1].name
    edited = dataclasses.replace(light, charter={**light.charter, "seed": 1},
                                 models=light.models[:-1],
                                 values=[v for v in light.values if v.model != gone])
    # Serialising the same result 1,000 times is the slow part of saving it; the store
    # writes exactly what to_dict gives, so give it the answer it would compute.
    for r in (light, edited):
        data = r.to_dict()
        object.__setattr__(r, "to_dict", lambda data=data: data)
    with Store.open(tmp_path / "big.sqlite") as s:
        for i in range(999):
            s.save(edited if 400 <= i < 700 else light, command="mlscope run")
        latest = s.save(big, command="mlscope run")
        assert s.count(big.project) == 1000
        counting = CountingStore(s)
        with running(counting) as base:
            home = f"{base}/p/{quote(big.project)}"
            overview = fetch(home)
            assert overview.status == 200
            assert counting.results == [latest]  # the latest result, and no other
            assert len(re.findall(r'<tr data-run="\d+">', overview.body)) == 25
            page = fetch(home + "?page=40")
            assert page.status == 200
            assert re.findall(r'<tr data-run="(\d+)">', page.body)[-1] == "1"
            assert 'rel="next"' not in page.body  # the last page: no older runs
            assert 'rel="prev"' in page.body
            assert "runs 976–1000 of 1,000 · page 40 of 40" in page.body
            history = fetch(f"{base}/p/{quote(big.project)}/history?last=all")
            assert history.status == 200
            assert history.body.count('class="series"') == 8 + 0  # the 8 best candidates
            assert history.body.count('class="change"') == 2  # edited at 401, back at 701
            run = fetch(f"{base}/runs/{latest}")
            assert run.status == 200
            assert 'class="chart heatmap"' in run.body
            assert counting.results == [latest]  # everything else came from the cache
