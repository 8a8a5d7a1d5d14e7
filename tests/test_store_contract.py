"""What every backend of the store must do alike: SQLite, and a real PostgreSQL server.

Each test taking ``store_url`` runs once on a fresh SQLite file and once on a fresh
PostgreSQL database (see ``tests/store_backends.py``: a private server is started for the
session when PostgreSQL is installed; otherwise those variants are skipped). The rest of
the contract (listing, history, concurrent writers, migrations, a newer schema) is in
``tests/test_store.py``, on both backends too.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from mlscope.cli import main
from mlscope.result import OVERALL, EvaluationResult
from mlscope.store import HistoryPoint, RunSummary, Store, StoreError
from mlscope.store import store as store_mod
from mlscope.store.schema import RUNS_TABLE, VALUES_TABLE
from tests import store_backends
from tests.factories import make_result
from tests.store_backends import database_snapshot
from tests.store_backends import run_sql as _sql
from tests.test_server import fetch, running

PROJECT = "カラバン campaign — ünïcode"
# Names that are not ASCII, with quotes, a backslash and characters outside the BMP.
RENAMES = {"caravan-campaign": PROJECT, "gbdt": "градиентный бустинг 🌲",
           "knn": "k-NN «ближайшие» 'q' \"dq\" \\ ;--"}
SLICE_LEVEL = ("average family", "famille moyenne ☃ 家族")
EXTREMES = [5e-324, 1.7976931348623157e308, 0.1 + 0.2, -0.0, 1e-300]
SECRET = "s3cr3t-Pässwörd"


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


@pytest.fixture(scope="module")
def unicode_result() -> EvaluationResult:
    """A realistic result (five models, 60 slices, ~1.6 MB of JSON) with non-ASCII
    project, model and slice names and extreme floats among its overall values."""
    text = make_result().to_json(indent=0)
    for old, new in RENAMES.items():
        text = text.replace(json.dumps(old), json.dumps(new, ensure_ascii=False))
    text = text.replace(SLICE_LEVEL[0], SLICE_LEVEL[1])
    data = json.loads(text)
    overall = [v for v in data["values"] if v["slice"] == OVERALL and v["value"] is not None]
    for v, x in zip(overall, EXTREMES, strict=False):
        v["value"] = x
    return EvaluationResult.from_dict(data)


def _expected_summary(res: EvaluationResult, run_id: int, note: str) -> RunSummary:
    rec = store_mod.run_record(res, command="mlscope run", charter_text=None, note=note)
    return RunSummary(
        id=run_id, created_at=res.created_at, project=PROJECT, command="mlscope run",
        task=res.task, status=res.status, exit_code=res.exit_code, winner=res.winner,
        n_models=len([m for m in res.models if m.kind == "candidate"]),
        models=json.loads(rec["models"]), baselines=json.loads(rec["baselines"]),
        metrics=[m.id for m in res.metrics], selection_metric=rec["selection_metric"],
        selection_split=res.splits["selection"], charter_hash=rec["charter_hash"],
        data_fingerprint=json.loads(rec["data_fingerprint"]),
        mlscope_version=res.mlscope_version, seed=res.seed, note=note, changes=[],
        requirements=len(res.requirements))


# -- round trip --------------------------------------------------------------------------
def test_every_field_round_trips(store_url: str, unicode_result: EvaluationResult) -> None:
    res = unicode_result
    assert RENAMES["gbdt"] in [m.name for m in res.models]
    assert any(SLICE_LEVEL[1] in s.key for s in res.slices)
    charter_text = "# charter ✓\nproject: " + PROJECT + "\n" + "x: 'ü𝄞'\n" * 100_000
    note = "line one\nline 'two' \"three\" \\ 100% ; DROP TABLE mlscope_runs; -- 🎉"
    with Store.open(store_url) as store:
        run_id = store.save(res, command="mlscope run", charter_text=charter_text, note=note)
        assert store.run(run_id) == _expected_summary(res, run_id, note)
        assert len(res.requirements) == 3  # the count kept is not a vacuous 0
        back = store.result(run_id)
        assert back.to_dict() == res.to_dict()
        assert store.charter_text(run_id) == charter_text
        assert store.projects() == [PROJECT]
        assert store.runs(PROJECT)[0].id == run_id
        # Every overall value comes back as the very same double, the extremes included.
        for metric in res.metrics:
            for split in ("validation", "test"):
                points = store.history(PROJECT, metric.id, split=split)
                want = [v for v in res.values if v.metric == metric.id and v.split == split
                        and v.slice == OVERALL]
                assert [(p.model, p.value, p.lower, p.upper) for p in points] == [
                    (v.model, v.value, v.lower, v.upper) for v in want]
        stored = {p.value for m in res.metrics for p in store.history(PROJECT, m.id)}
        assert set(EXTREMES) <= stored


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_non_finite_number_is_refused_and_nothing_is_written(
    store_url: str, unicode_result: EvaluationResult, bad: float
) -> None:
    # Results are JSON without NaN or infinities (an undefined metric is None, with a
    # reason), on every backend; a result breaking that is refused before anything is
    # written, rather than stored in a form one database keeps and another rejects.
    data = unicode_result.to_dict()
    data["values"][0]["value"] = bad
    res = EvaluationResult.from_dict(data)
    with Store.open(store_url) as store:
        with pytest.raises(StoreError, match="cannot be stored"):
            store.save(res, command="mlscope run")
        assert store.count() == 0
    assert _sql(store_url, f"SELECT COUNT(*) FROM {VALUES_TABLE}") == [(0,)]


@pytest.mark.parametrize(("name", "match"), [
    pytest.param("m" * 300, r"model name `m+…` has 300 characters.*up to 255", id="too-long"),
    pytest.param("nul\x00model", r"model name 'nul\\x00model'… contains a NUL", id="nul"),
])
def test_names_one_database_would_reject_are_refused_alike(
    store_url: str, unicode_result: EvaluationResult, name: str, match: str
) -> None:
    # SQLite would keep a 300-character model name, or one with a NUL character;
    # PostgreSQL rejects both (VARCHAR(255), and no NUL in text). The store refuses them
    # on every backend, before writing, naming the field and the reason.
    text = json.dumps(unicode_result.to_dict(), ensure_ascii=False).replace(
        json.dumps(RENAMES["gbdt"], ensure_ascii=False), json.dumps(name))
    res = EvaluationResult.from_dict(json.loads(text))
    assert name in [m.name for m in res.models]
    with Store.open(store_url) as store:
        with pytest.raises(StoreError, match=match):
            store.save(res, command="mlscope run")
        with pytest.raises(StoreError, match=r"note .* contains a NUL"):
            store.save(unicode_result, command="mlscope run", note="a\x00b")
        assert store.count() == 0


def test_projects_are_listed_in_the_same_order_everywhere(
    store_url: str, unicode_result: EvaluationResult
) -> None:
    # A team server usually sorts text by language rules (alpha < Alpha < beta); SQLite
    # by code point. The store promises one order: Python's, by code point.
    names = ["beta", "Alpha", "alpha", "_x", "Ärger", "zeta", "10", "9", "Zeta"]
    data = unicode_result.to_dict()
    with Store.open(store_url) as store:
        for name in names:
            store.save(EvaluationResult.from_dict({**data, "project": name}),
                       command="mlscope run")
        assert store.projects() == sorted(names)
        assert [r.project for r in store.runs()] == names[::-1]


# -- what the store refuses, untouched ---------------------------------------------------
def _foreign_tables(url: str) -> None:
    _sql(url, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(50))")
    _sql(url, "INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace')")
    # Another application's Alembic bookkeeping, under Alembic's default name.
    _sql(url, "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    _sql(url, "INSERT INTO alembic_version VALUES ('ae1027a6acf')")


def test_other_applications_tables(store_url: str, unicode_result: EvaluationResult) -> None:
    """An SQLite file of another application is refused; a server database is shared.

    A team's PostgreSQL database may hold other applications' tables (docs/store.md): the
    store's own names all start with ``mlscope_``, and it never touches the others.
    """
    _foreign_tables(store_url)
    before = database_snapshot(store_url)
    if _is_sqlite(store_url):
        with pytest.raises(StoreError, match=r"other tables \(alembic_version, customers\)"):
            Store.open(store_url)
        assert database_snapshot(store_url) == before
        return
    with Store.open(store_url) as store:
        store.save(unicode_result, command="mlscope run")
        assert store.count() == 1
    after = database_snapshot(store_url)
    assert {k: after[k] for k in ("customers", "alembic_version")} == {
        k: before[k] for k in ("customers", "alembic_version")}
    assert sorted(k for k in after if k.startswith("mlscope_")) == [
        "mlscope_alembic_version", "mlscope_meta", "mlscope_monitor_windows",
        "mlscope_monitors", "mlscope_run_values", "mlscope_runs"]


def test_mlscope_named_tables_without_a_revision_are_refused_untouched(store_url: str) -> None:
    _foreign_tables(store_url)
    _sql(store_url, f"CREATE TABLE {RUNS_TABLE} (id INTEGER PRIMARY KEY, what TEXT)")
    _sql(store_url, f"INSERT INTO {RUNS_TABLE} VALUES (1, 'not ours')")
    before = database_snapshot(store_url)
    for create in (True, False):
        with pytest.raises(StoreError, match=r"damaged.*untouched") as err:
            Store.open(store_url, create=create)
        assert RUNS_TABLE in str(err.value)
    assert database_snapshot(store_url) == before


# -- passwords -----------------------------------------------------------------------------
@pytest.mark.parametrize("location", [
    pytest.param(f"postgresql+psycopg://ada:{SECRET}@db.invalid:notaport/runs", id="bad-port"),
    pytest.param(f"nosuchdb+nodriver://ada:{SECRET}@db.invalid/runs", id="unknown-dialect"),
    pytest.param(f"postgresql+nosuchdriver://ada:{SECRET}@db.invalid/runs", id="no-driver"),
    pytest.param(f"postgresql+psycopg://ada:{SECRET}@/runs?host=/nonexistent/socket/dir",
                 id="no-server"),
])
def test_a_password_in_the_url_is_never_shown(location: str, tmp_path: Path,
                                              project: Callable[..., Path]) -> None:
    with pytest.raises(StoreError) as err:
        Store.open(location)
    assert SECRET not in str(err.value)
    assert "ada" in str(err.value) or "not a database URL" in str(err.value)
    cpath = project()
    r = CliRunner().invoke(main, ["run", str(cpath), "-o", str(tmp_path / "out"), "-q",
                                  "--resamples", "0", "--store", location])
    assert r.exit_code == 2, r.output
    assert SECRET not in r.output
    assert "Traceback" not in r.output


def test_a_refused_password_is_not_shown(
    postgres_cluster: store_backends.Cluster,
) -> None:
    if postgres_cluster.stop is None:
        pytest.skip("needs the private test server (its one password-checked role)")
    role = store_backends.PASSWORD_ROLE
    with store_backends.fresh_database(postgres_cluster) as url:
        admin = url.render_as_string(hide_password=False)
        _sql(admin, f"CREATE ROLE {role} LOGIN PASSWORD 'the-right-one'")
        try:
            wrong = url.set(username=role, password=SECRET)
            with pytest.raises(StoreError, match="password authentication failed") as err:
                Store.open(wrong.render_as_string(hide_password=False))
            assert SECRET not in str(err.value)
            assert "***" in str(err.value)
            right = url.set(username=role, password="the-right-one")
            _sql(admin, f"GRANT CREATE ON SCHEMA public TO {role}")
            with Store.open(right.render_as_string(hide_password=False)) as store:
                assert "the-right-one" not in store.url + repr(store)
                assert store.url == right.render_as_string(hide_password=True)
        finally:
            _sql(admin, f"DROP OWNED BY {role}")
            _sql(admin, f"DROP ROLE {role}")


# -- the dashboard and the CLI on every backend --------------------------------------------
def test_the_dashboard_reads_the_store(store_url: str) -> None:
    first, second = make_result(), make_result(n_models=4, seed=43)
    with Store.open(store_url) as store:
        ids = [store.save(r, command="mlscope run") for r in (first, second)]
    project = first.project
    with Store.open(store_url, create=False) as store, running(store) as base:
        overview = fetch(f"{base}/p/{project}")
        assert overview.status == 200
        assert [int(x) for x in re.findall(r'<tr data-run="(\d+)">', overview.body)] == \
            ids[::-1]
        assert "models removed: naive_bayes" in overview.body
        history = fetch(f"{base}/p/{project}/history?metric=roc_auc")
        assert history.status == 200
        assert 'class="series" data-model="logistic"' in history.body
        for run_id in ids:
            page = fetch(f"{base}/runs/{run_id}")
            assert page.status == 200
            assert f"#{run_id}" in page.body
            assert fetch(f"{base}/runs/{run_id}/report").status == 200
        assert fetch(f"{base}/runs/{ids[-1] + 1}").status == 404
        assert fetch(f"{base}/").status == 302


def test_the_cli_records_into_the_store(store_url: str, project: Callable[..., Path],
                                        tmp_path: Path, request: pytest.FixtureRequest
                                        ) -> None:
    cpath = project()
    url = make_url(store_url)
    given = store_url if _is_sqlite(store_url) else url.set(password=SECRET).render_as_string(
        hide_password=False)  # the private server trusts its socket: any password opens it
    r = CliRunner().invoke(main, ["run", str(cpath), "-o", str(tmp_path / "out"),
                                  "--resamples", "0", "--store", given])
    assert r.exit_code in (0, 1), r.output
    assert SECRET not in r.output
    assert "(run 1)" in r.output
    with Store.open(store_url, create=False) as store:
        assert [s.command for s in store.runs()] == ["run"]
    # `serve` on a database without a store: a clear refusal, exit 2, nothing created.
    if _is_sqlite(store_url):
        (tmp_path / "empty.sqlite").touch()
        _serve_refuses(f"sqlite:///{tmp_path / 'empty.sqlite'}")
        return
    with store_backends.fresh_database(request.getfixturevalue("postgres_cluster")) as empty:
        _serve_refuses(empty.set(password=SECRET).render_as_string(hide_password=False))


def _serve_refuses(location: str) -> None:
    before = database_snapshot(location)
    r = CliRunner().invoke(main, ["serve", "--store", location, "--port", "0"])
    assert r.exit_code == 2, r.output
    assert "no mlscope store" in r.output
    assert SECRET not in r.output
    assert database_snapshot(location) == before


def test_history_points_are_typed(store_url: str, unicode_result: EvaluationResult) -> None:
    with Store.open(store_url) as store:
        store.save(unicode_result, command="mlscope run")
        points = store.history(PROJECT, "roc_auc")
    assert points
    for p in points:
        assert isinstance(p, HistoryPoint)
        assert type(p.run_id) is int
        assert type(p.created_at) is str
        assert p.value is None or type(p.value) is float
