"""Hostile results: a crafted result.json or store row must not run script anywhere.

A result is input: anyone can hand over a result.json, and anyone who can write to a shared
store can change a row. Here every string field the report and the dashboard show (project,
model, metric and slice names, warnings, the charter path, the diagnosis' texts, and the
pre-rendered SVG that older results stored) carries script in every form that escapes a
context: a tag, a closed attribute, a closed ``<script>``, a ``javascript:`` URL, SVG with an
event handler and ``<foreignObject>``. The pages are parsed: the only scripts are mlscope's
own, each allowed by the page's Content Security Policy by its hash; no element has an
``on*`` attribute, a ``javascript:`` URL or a foreign element; the payloads are shown as
text, so the fields were reached. The diagnosis charts are drawn from the result's numbers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
import zlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import mlscope
from mlscope.cli import main
from mlscope.report import render_html
from mlscope.result import EvaluationResult
from mlscope.store import Store
from tests import test_diagnose as td
from tests.test_server import fetch, running

PAYLOADS = (
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=2">',
    "'><svg onload=window.__xss=3>",
    "</script><script>window.__xss=4</script>",
    "javascript:window.__xss=5",
    '<svg><foreignObject><iframe src="javascript:window.__xss=6"></iframe>'
    "</foreignObject></svg>",
    '<a href="javascript:window.__xss=7">x</a><!--',
)
EVIL = "".join(PAYLOADS)
EVIL_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" onload="window.__xss=8">'
            '<foreignObject><body onload="window.__xss=9"></body></foreignObject>'
            "<script>window.__xss=10</script><title>STORED-SVG-MARKER</title></svg>")
PROJECT = "proj_x"
MODEL = "cand"
METRIC = "acc_x"
SLICE = "region=east"
# Keys whose string values are free text shown somewhere.
TEXT_KEYS = {"message", "note", "notes", "source", "evidence", "title", "description",
             "reason", "warnings", "charter_path", "actions", "label", "error_note"}
# Elements the payloads would add; mlscope's pages have none of them.
FOREIGN = {"iframe", "object", "embed", "foreignobject", "base", "img", "frame"}


# -- the crafted result -----------------------------------------------------------------


def _charter() -> dict[str, Any]:
    c = td.charter(
        project=PROJECT,
        metrics=["roc_auc", "log_loss", {"id": METRIC, "metric": "accuracy",
                                         "threshold": 0.5}],
        selection={"rule": "satisficing", "optimize": METRIC},
        requirements={METRIC: ">= 0.97"},
        diagnosis={"history": "history.csv",
                   "learning_curve": {"sizes": [500, 1000, 2000, 4000, 8000, 16000],
                                      "values": [1 - (0.5 * s ** -0.4 + 0.05) for s in
                                                 (500, 1000, 2000, 4000, 8000, 16000)]}},
        intervals={"resamples": 100})
    c["data"]["models"] = {MODEL: "model"}
    c["slices"] = {"columns": ["region"], "min_size": 50}
    return c


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> EvaluationResult:
    """A real diagnosed result with a training history and a learning curve."""
    import numpy as np
    import pandas as pd

    tmp = tmp_path_factory.mktemp("hostile-web")
    steps = np.arange(1, 41)
    pd.DataFrame({"step": steps, "train_loss": 0.69 * np.exp(-steps / 15) + 0.2,
                  "val_loss": 0.69 * np.exp(-steps / 15) + 0.25}
                 ).to_csv(tmp / "history.csv", index=False)
    return mlscope.evaluate(td.write(tmp, _charter()), diagnose=True)


def _rename(text: str, old: str) -> str:
    """Every JSON string exactly ``old`` (a key or a value) becomes ``old`` + the payloads."""
    return text.replace(json.dumps(old), json.dumps(old + EVIL))


def _free_text(obj: Any, key: str = "") -> Any:
    if isinstance(obj, dict):
        return {k: _free_text(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_free_text(v, key) for v in obj]
    if isinstance(obj, str) and key in TEXT_KEYS:
        return obj + EVIL
    return obj


def hostile_dict(result: EvaluationResult) -> dict[str, Any]:
    """``result`` with the payloads in every string field the pages show."""
    text = json.dumps(result.to_dict())
    for old in (PROJECT, MODEL, METRIC, SLICE, "east"):
        text = _rename(text, old)
    d: dict[str, Any] = _free_text(json.loads(text))
    d["warnings"].append(EVIL)
    d["charter_path"] = EVIL
    d["charter"]["description"] = EVIL
    # What an older mlscope stored, or an attacker writes: markup in the diagnosis.
    d["diagnosis"]["history"]["svg"] = EVIL_SVG
    d["diagnosis"]["learning_curve"]["svg"] = EVIL_SVG
    return d


# -- the checks --------------------------------------------------------------------------


class _Scan(HTMLParser):
    """Scripts (their text), event-handler attributes, script URLs and foreign elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self.csp: list[str] = []
        self.handlers: list[str] = []
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []
        self._script: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}={value!r}>")
            v = re.sub(r"[\x00-\x20]", "", value or "").lower()
            if v.startswith(("javascript:", "data:text/html", "vbscript:")):
                self.urls.append(f"<{tag} {name}={value!r}>")
        a = dict(attrs)
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp.append(a.get("content") or "")
        if tag == "script":
            assert "src" not in a, f"an external script: {a}"
            self._script = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append("".join(self._script))
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)
        else:
            self.text.append(data)


def scan(html: str) -> _Scan:
    s = _Scan()
    s.feed(html)
    s.close()
    return s


def script_sources(policy: str) -> list[str]:
    for part in policy.split(";"):
        words = part.split()
        if words and words[0] == "script-src":
            return words[1:]
    return []


def sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def assert_inert(html: str, policies: list[str], *, reached: int = 1) -> None:
    """No script but mlscope's (allowed by every policy by hash), no handler, no script
    URL, no element a payload adds; the payloads are there as text at least ``reached``
    times."""
    s = scan(html)
    assert not s.handlers, s.handlers
    assert not s.urls, s.urls
    assert not s.tags & FOREIGN, s.tags & FOREIGN
    assert policies, "no Content Security Policy"
    for policy in policies:
        allowed = script_sources(policy)
        assert allowed, policy
        assert "'unsafe-inline'" not in allowed, policy
        assert "'unsafe-eval'" not in allowed, policy
        for body in s.scripts:
            assert sha256(body) in allowed, ("a script the policy does not allow", body[:200])
    for body in s.scripts:
        assert "__xss" not in body
    text = "".join(s.text)
    assert text.count(PAYLOADS[0]) >= reached, "the payloads did not reach the page"
    assert "STORED-SVG-MARKER" not in html  # stored markup is never used


# -- the report ---------------------------------------------------------------------------


def test_report_of_a_crafted_result_runs_nothing(clean: EvaluationResult, tmp_path: Path
                                                  ) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(hostile_dict(clean)), encoding="utf-8")
    r = CliRunner().invoke(main, ["report", str(path), "--html", str(tmp_path / "r.html")])
    assert r.exit_code in (0, 1), r.output
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert_inert(html, scan(html).csp, reached=10)
    # The diagnosis charts are still there, drawn from the numbers.
    assert 'class="chart history"' in html
    assert 'class="chart learning-curve"' in html


def test_report_draws_the_diagnosis_charts_from_data(clean: EvaluationResult) -> None:
    d = clean.to_dict()["diagnosis"]
    # The result holds the curves' numbers, not markup.
    assert "svg" not in d["history"]
    assert "svg" not in d["learning_curve"]
    train = d["history"]["curves"]["train"]
    assert len(train["step"]) == len(train["loss"]) == 40
    assert d["learning_curve"]["band"]["n"]
    html = render_html(clean)
    assert 'class="chart history"' in html
    assert 'class="chart learning-curve"' in html
    # Garbage where the numbers should be: no chart, no crash.
    broken = clean.to_dict()
    broken["diagnosis"]["history"]["curves"] = {"train": {"step": ["<x>"], "loss": 1}}
    broken["diagnosis"]["learning_curve"]["curve"]["sizes"] = "<script>"
    html = render_html(EvaluationResult.from_dict(broken))
    assert 'class="chart history"' not in html
    assert 'class="chart learning-curve"' not in html
    assert html.count("No chart:") == 2


def test_report_carries_a_policy_with_the_hash_of_its_script(clean: EvaluationResult) -> None:
    s = scan(render_html(clean))
    assert len(s.csp) == 1
    policy = s.csp[0]
    assert "default-src 'none'" in policy
    assert s.scripts
    assert script_sources(policy) == sorted({sha256(x) for x in s.scripts})


# -- the dashboard -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_store(clean: EvaluationResult, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[tuple[Store, int]]:
    """A store with a clean run, then a run whose row was rewritten in the database."""
    path = tmp_path_factory.mktemp("hostile-store") / "store.sqlite"
    with Store.open(path) as s:
        s.save(clean, command="mlscope diagnose", charter_text="project: x")
        rid = s.save(clean, command="mlscope diagnose", charter_text="project: x")
    blob = zlib.compress(json.dumps(hostile_dict(clean)).encode("utf-8"))
    with sqlite3.connect(path) as con:
        con.execute("UPDATE mlscope_runs SET result = ?, winner = ?, command = ?, "
                    "note = ?, changes = ?, models = ? WHERE id = ?",
                    (blob, MODEL + EVIL, EVIL, EVIL, json.dumps([EVIL]),
                     json.dumps([MODEL + EVIL]), rid))
        con.execute("UPDATE mlscope_run_values SET model = model || ? WHERE run_id = ?",
                    (EVIL, rid))
    with Store.open(path, create=False) as s:
        yield s, rid


def test_dashboard_pages_of_a_crafted_row_run_nothing(hostile_store: tuple[Store, int]
                                                      ) -> None:
    store, rid = hostile_store
    with running(store) as base:
        paths = [f"/p/{PROJECT}", f"/p/{PROJECT}/history",
                 f"/p/{PROJECT}/history?metric=roc_auc", f"/runs/{rid}",
                 f"/runs/{rid}?split=test", f"/runs/{rid}/report", "/nope"]
        for path in paths:
            r = fetch(base + path)
            assert r.status in (200, 404), (path, r.status, r.body[:500])
            policies = [r.headers["content-security-policy"], *scan(r.body).csp]
            assert_inert(r.body, policies, reached=0 if path == "/nope" else 1)
