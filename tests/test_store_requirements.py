"""How many requirements a run checked, kept in the store (revision 0004), so that the
dashboard's run lists tell "requirements met" from "the charter sets none".

Tests taking ``store_url`` run on SQLite and on a real PostgreSQL server (skipped where
there is none; see ``tests/store_backends.py``).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlscope.result import EvaluationResult
from mlscope.store import HEAD_REVISION, Store, migrate
from mlscope.store import store as store_mod
from mlscope.store.schema import RUNS_TABLE, VERSION_TABLE
from mlscope.store.store import insert_values, value_rows
from tests.factories import make_result
from tests.store_backends import run_sql
from tests.test_server import fetch, running


@pytest.fixture(scope="module")
def none_met() -> EvaluationResult:
    """A charter without requirements: its "requirements met" is vacuous."""
    res = make_result(n_models=2, requirements={})
    assert (res.status, res.requirements) == ("requirements_met", [])
    return res


@pytest.fixture(scope="module")
def one_met() -> EvaluationResult:
    res = make_result(n_models=2, requirements={"roc_auc": ">= 0.5"})
    assert (res.status, len(res.requirements)) == ("requirements_met", 1)
    return res


@pytest.fixture(scope="module")
def three_missed() -> EvaluationResult:
    res = make_result(n_models=2)
    assert (res.status, len(res.requirements)) == ("requirements_not_met", 3)
    return res


def test_the_count_round_trips(store_url: str, none_met: EvaluationResult,
                               one_met: EvaluationResult,
                               three_missed: EvaluationResult) -> None:
    with Store.open(store_url) as store:
        ids = [store.save(r, command="mlscope run") for r in (none_met, one_met, three_missed)]
        summaries = {s.id: s for s in store.runs()}
        assert [summaries[i].requirements for i in ids] == [0, 1, 3]
        assert [summaries[i].no_requirements for i in ids] == [True, False, False]
        assert store.run(ids[0]).requirements == 0
    assert run_sql(store_url, f"SELECT id, requirements FROM {RUNS_TABLE} ORDER BY id") == [
        (ids[0], 0), (ids[1], 1), (ids[2], 3)]


def test_a_revision_3_store_upgrades_and_counts_its_runs(
    store_url: str, none_met: EvaluationResult, one_met: EvaluationResult,
    three_missed: EvaluationResult,
) -> None:
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        migrate.upgrade(conn, "0003")
        old_runs = sa.Table(RUNS_TABLE, sa.MetaData(), autoload_with=conn)
        assert "requirements" not in old_runs.c  # really the old schema
        for i, res in enumerate((none_met, one_met, three_missed, one_met)):
            rec = store_mod.run_record(res, command="mlscope run", charter_text=None,
                                       note=f"old {i}")
            del rec["requirements"]
            if i == 3:  # a result no longer readable: its count stays unknown
                rec["result"] = zlib.compress(b"not json")
            run_id = conn.execute(sa.insert(old_runs).values(**rec, changes="[]")
                                  ).inserted_primary_key[0]
            insert_values(conn, run_id, value_rows(res))
    engine.dispose()

    with Store.open(store_url, create=False) as store:
        runs = store.runs()[::-1]
        assert [r.note for r in runs] == ["old 0", "old 1", "old 2", "old 3"]
        assert [r.requirements for r in runs] == [0, 1, 3, None]
        assert [r.no_requirements for r in runs] == [True, False, False, False]
        assert store.result(1).to_dict() == none_met.to_dict()
        assert store.save(none_met, command="mlscope run") == 5
        assert store.run(5).requirements == 0
    assert run_sql(store_url, f"SELECT version_num FROM {VERSION_TABLE}") == [
        (HEAD_REVISION,)]
    assert HEAD_REVISION == "0004"


def _chips(body: str) -> list[str]:
    """The texts of the status chips of a page, in order."""
    import re

    return re.findall(r'<span class="chip (?:ok|bad|warn|none)">([^<]*)</span>', body)


def test_dashboard_says_no_requirements_where_the_charter_sets_none(
    tmp_path: Path, none_met: EvaluationResult, one_met: EvaluationResult
) -> None:
    other = make_result(n_models=2, requirements={"roc_auc": ">= 0.5"})
    other.project = "with-requirements"
    with Store.open(tmp_path / "s.sqlite") as store:
        store.save(one_met, command="mlscope run")  # run 1: one requirement, met
        store.save(none_met, command="mlscope run")  # run 2: none set
        store.save(other, command="mlscope run")  # run 3: another project's, met
        with running(store) as url:
            overview = fetch(f"{url}/p/{none_met.project}")
            run2, run1 = fetch(f"{url}/runs/2"), fetch(f"{url}/runs/1")
            projects = fetch(f"{url}/")
    assert overview.status == run1.status == run2.status == projects.status == 200
    # The project's overview: its latest run (run 2) leads, then the list, newest first.
    assert '<span class="chip none">No requirements</span>' in overview.body
    assert _chips(overview.body)[-2:] == ["No requirements", "Requirements met"]
    assert '<span class="chip ok">Requirements met</span>' in overview.body  # run 1 only
    assert overview.body.count('<span class="chip ok">Requirements met</span>') == 1
    assert "No requirements" in _chips(run2.body)
    assert "Requirements met" not in _chips(run2.body)
    assert "Requirements met" in _chips(run1.body)
    assert "No requirements" not in _chips(run1.body)
    # The projects page: each project's latest run.
    assert sorted(_chips(projects.body)) == ["No requirements", "Requirements met"]
