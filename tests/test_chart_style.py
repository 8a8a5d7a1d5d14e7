"""Chart style shared by the report and the dashboard: a distinct colour per model, baseline
shapes, far-out values cut from an axis, what a charter edit changed, and the baselines
count the report and the dashboard agree on."""

from __future__ import annotations

import html
import itertools
import re
from pathlib import Path

import pytest

from mlscope.report.chart_data import baseline_shapes
from mlscope.report.panels_decision import header_panel
from mlscope.report.svg import BASELINE_SHAPES, PALETTE, Svg, marker, outlier_limits
from mlscope.server.charter_diff import charter_diff, flatten
from mlscope.store import Store
from tests.test_server import PROJECT, fetch, running, two_run_store


def _lab(color: str) -> tuple[float, float, float]:
    """sRGB ``#rrggbb`` → CIE L*a*b* (D65)."""
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(int(color[i:i + 2], 16) / 255) for i in (1, 3, 5))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def test_the_palette_has_twenty_colours_no_two_alike() -> None:
    assert len(PALETTE) == len(set(PALETTE)) == 20
    closest = min(
        sum((p - q) ** 2 for p, q in zip(_lab(a), _lab(b), strict=True)) ** 0.5
        for a, b in itertools.combinations(PALETTE, 2))
    assert closest > 20  # ΔE*76: clearly different side by side (2.3 is "just noticeable")
    # and none is the baselines' grey or near white
    assert min(sum((p - q) ** 2 for p, q in zip(_lab(c), _lab("#ffffff"), strict=True)) ** 0.5
               for c in PALETTE) > 20


@pytest.mark.parametrize("shape", ["circle", *BASELINE_SHAPES.values()])
def test_every_marker_is_centred_on_its_point(shape: str) -> None:
    svg = Svg(40, 40, "t")
    marker(svg, shape, 20.0, 20.0, 4.0, fill="#ffffff", stroke="#0072B2")
    part = svg.parts[0]
    nums = [float(v) for v in re.findall(r"-?[0-9.]+", part.split('fill=')[0])]
    if shape == "circle":
        assert 'cx="20"' in part
        assert 'cy="20"' in part
    elif shape == "square":
        assert 'x="16.4"' in part
        assert 'width="7.2"' in part
    else:
        xs, ys = nums[0::2], nums[1::2]
        assert min(xs) < 20 < max(xs)
        assert min(ys) < 20 < max(ys)
    assert 'fill="#ffffff"' in part
    assert 'stroke="#0072B2"' in part


def test_far_out_values_are_cut_and_ordinary_spreads_are_not() -> None:
    ten = [0.20, 0.21, 0.22, 0.23, 0.24, 0.25, 0.26, 0.27, 0.28, 0.30]
    assert outlier_limits([*ten, 17.2]) == (0.20, 0.30)
    assert outlier_limits([*ten, 17.2, 16.9]) == (0.20, 0.30)  # two far out, same side
    assert outlier_limits([0.001, *ten]) is None  # 0.2 below: not far, relative to 0.1
    assert outlier_limits([0.97, 0.975, 0.98, 0.985, 0.99]) is None
    assert outlier_limits([0.5, 0.97, 0.975, 0.98, 0.985, 0.99]) == (0.97, 0.99)
    assert outlier_limits([0.5, 0.7, 0.72, 0.75, 0.78]) is None  # the prior stays in view
    assert outlier_limits([1.0, 2.0, 50.0]) is None  # too few to call one an outlier


def test_charter_diff_names_each_changed_key_old_to_new() -> None:
    old = {"requirements": {"roc_auc": ">= 0.7", "recall": ">= 0.3"},
           "metrics": ["roc_auc", "recall"], "seed": 1,
           "baselines": {"prior": {"kind": "prior"}}}
    new = {"requirements": {"roc_auc": ">= 0.75", "recall": ">= 0.3"},
           "metrics": ["roc_auc", "recall", "brier"], "seed": 1,
           "costs": {"fp": 2.5}}
    assert charter_diff(old, new) == [
        'requirements.roc_auc: ">= 0.7" → ">= 0.75"',
        'metrics: ["roc_auc", "recall"] → ["roc_auc", "recall", "brier"]',
        "costs.fp: added 2.5",
        'baselines.prior.kind: removed (was "prior")',
    ]
    assert charter_diff(new, new) == []
    assert charter_diff(None, {"seed": 2}) == ["seed: added 2"]
    many = charter_diff({}, {f"k{i}": i for i in range(20)}, limit=5)
    assert many == ["k0: added 0", "k1: added 1", "k2: added 2", "k3: added 3",
                    "… and 16 more keys"]
    long = charter_diff({"description": "a"}, {"description": "x" * 200})[0]
    assert long.endswith('…')
    assert len(long) < 120
    assert flatten({"a": {}, "b": {"c": [1]}}) == {"a": {}, "b.c": [1]}


def test_the_report_and_the_dashboard_count_the_same_baselines(tmp_path: Path) -> None:
    path = two_run_store(tmp_path)  # run 2: baselines prior (evaluated) and paper (a figure)
    with Store.open(path, create=False) as store:
        result = store.result(2)
        summary = store.run(2)
        evaluated = [m.name for m in result.models if m.kind == "baseline"]
        assert evaluated == ["prior"]  # the figure has no predictions: no model row
        head = header_panel(result)
        assert head["n_baselines"] == len(summary.baselines) == 2
        assert head["references"] == ["paper"]
        assert baseline_shapes(result) == {"prior": "square"}
        with running(store) as url:
            pages = [fetch(f"{url}/p/{PROJECT}").body, fetch(f"{url}/runs/2").body,
                     fetch(f"{url}/runs/2/report").body]
    for body in pages:
        text = html.unescape(re.sub(r"<[^>]+>", "", body))
        assert re.search(r"models \+ 2 baselines", text), text[:2000]
        assert not re.search(r"\+ 1 baselines?", text)


def test_what_changed_shows_the_keys_escaped(tmp_path: Path) -> None:
    path = two_run_store(tmp_path)
    with Store.open(path, create=False) as store, running(store) as url:
        body = fetch(f"{url}/p/{PROJECT}").body
    assert '<ul class="cdiff"' in body
    # Values are shown as JSON text and escaped: ">=" arrives as "&gt;=", never raw markup.
    assert "requirements.roc_auc: &#34;&gt;= 0.6&#34; → &#34;&gt;= 0.65&#34;" in body or \
        "requirements.roc_auc: &quot;&gt;= 0.6&quot; → &quot;&gt;= 0.65&quot;" in body
    assert "data.models.fair: added &#34;p_fair&#34;" in body or \
        "data.models.fair: added &quot;p_fair&quot;" in body


def test_monitor_series_chart_says_which_mark_is_the_estimate_and_which_realised() -> None:
    """The performance chart draws estimates as dots on a line and realised values as
    rings: its legend names both (rings alone: only "realised"); a chart without rings
    (the PSI chart) adds neither."""
    from mlscope.report.monitor_charts import Series, series_chart

    both = series_chart("perf", [Series("lda", [0.53, None], [0.35, None], [0.7, None],
                                        [0.51, 0.65])], y_label="roc_auc")
    assert ">estimate<" in both
    assert ">realised<" in both
    rings = series_chart("perf", [Series("lda", [None, None], None, None, [0.51, 0.65])],
                         y_label="roc_auc")
    assert ">estimate<" not in rings
    assert ">realised<" in rings
    psi = series_chart("psi", [Series("Volume", [1.6, 5.9])], y_label="PSI", gate=0.2)
    assert ">estimate<" not in psi
    assert ">realised<" not in psi
    assert 'paint-order="stroke"' in psi  # the gate's label keeps a halo over the lines
