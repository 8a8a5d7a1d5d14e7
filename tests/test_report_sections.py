"""The report compiles only the sections its result has (start-up: each optional section
is a template of its own, included when present), and they render where they belong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import mlscope
from mlscope.report import html
from tests.test_startup_imports import _plain_charter

OPTIONAL = ("diagnosis", "comparison", "baselines", "plan", "hitl", "confusion")


def _compiled(monkeypatch: pytest.MonkeyPatch, result: mlscope.EvaluationResult,
              ) -> tuple[list[str], str]:
    names: list[str] = []
    real = html._source

    def source(name: str) -> str:
        names.append(name)
        return real(name)

    monkeypatch.setattr(html, "_source", source)
    return names, html.render_html(result)


def test_every_optional_section_has_its_template() -> None:
    main = html._source("report.html.j2")
    for name in OPTIONAL:
        include = f'{{% if page.{name} %}}{{% include "report_{name}.html.j2" %}}{{% endif %}}'
        assert include in main
        assert html._source(f"report_{name}.html.j2").startswith(f"{{% if page.{name} %}}")


def test_a_plain_report_compiles_only_its_sections(
    project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = mlscope.evaluate(project(charter=_plain_charter()))
    view = html._page(result)
    names, page = _compiled(monkeypatch, result)
    # Compiled: the main template and the sections the page has, no other.
    assert names == ["report.html.j2", *(f"report_{n}.html.j2" for n in OPTIONAL
                                         if getattr(view, n))]
    for name in ("diagnosis", "baselines", "hitl", "confusion"):
        assert not getattr(view, name)
        assert f"report_{name}.html.j2" not in names
        assert f'<section class="card" id="{name}"' not in page


def test_a_section_is_compiled_and_shown_when_present(
    project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    ch = _plain_charter()
    ch["baselines"] = {"base": {"kind": "prior"}}
    result = mlscope.evaluate(project(charter=ch))
    names, page = _compiled(monkeypatch, result)
    assert "report_baselines.html.j2" in names
    assert '<section class="card" id="baselines"' in page
    # In its place: after the rules, before the metric tables' end of page.
    assert page.index('id="rules"') < page.index('id="baselines"')
