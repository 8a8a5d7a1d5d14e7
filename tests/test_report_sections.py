"""The report compiles only the sections its result has (start-up: each optional section
is a template of its own, included when present), and they render where they belong."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

import jinja2
import pytest

import mlscope
from mlscope.report import html, panels_verdict, templating
from tests.test_startup_imports import _plain_charter

OPTIONAL = ("diagnosis", "comparison", "baselines", "plan", "hitl", "confusion")


def _source(name: str) -> str:
    return (resources.files("mlscope.report") / "templates" / name).read_text(encoding="utf-8")


def _compiled(monkeypatch: pytest.MonkeyPatch, result: mlscope.EvaluationResult,
              ) -> tuple[list[str], str]:
    """The templates a fresh process would compile to render ``result``, and the page."""
    names: list[str] = []
    real = jinja2.PackageLoader.get_source

    def get_source(self: jinja2.PackageLoader, env: jinja2.Environment, name: str,
                   ) -> tuple[str, str | None, Callable[[], bool] | None]:
        names.append(name)
        return real(self, env, name)

    monkeypatch.setattr(jinja2.PackageLoader, "get_source", get_source)
    templating.environment.cache_clear()  # as in a new process: nothing compiled yet
    try:
        return names, html.render_html(result)
    finally:
        templating.environment.cache_clear()


def test_every_optional_section_has_its_template() -> None:
    main = _source("report.html.j2")
    for name in OPTIONAL:
        include = f'{{% if page.{name} %}}{{% include "report_{name}.html.j2" %}}{{% endif %}}'
        assert include in main
        assert _source(f"report_{name}.html.j2").startswith(f"{{% if page.{name} %}}")


def test_templates_are_compiled_once_per_process(
    project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = mlscope.evaluate(project(charter=_plain_charter()))
    names, first = _compiled(monkeypatch, result)
    assert "report.html.j2" in names
    templating.environment.cache_clear()
    html.render_html(result)  # compiles them (a process's first report)
    names.clear()
    # The next report, and every page a dashboard serves after it, reuses them: no
    # template is read or compiled again, and the page is the same.
    again = html.render_html(result)
    verdict = panels_verdict.launch_html(result)
    assert names == []
    assert again == first
    assert str(verdict) in again


def test_a_plain_report_compiles_only_its_sections(
    project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = mlscope.evaluate(project(charter=_plain_charter()))
    view = html._page(result)
    names, page = _compiled(monkeypatch, result)
    # Compiled: the main template, the launch panel's and the sections the page has, no
    # other.
    sections = [f"report_{n}.html.j2" for n in OPTIONAL if getattr(view, n)]
    assert names == ["report.html.j2", "verdict.html.j2", *sections]
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
