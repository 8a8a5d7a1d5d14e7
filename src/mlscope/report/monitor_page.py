"""``monitor.html``: one offline page for a ``mlscope monitor`` run.

A status strip over the windows, the shadow gate's decision (when a candidate is named),
the main checks over the windows (the PSI of the most shifted features, each model's
estimated metric with its band and the realised value) and every alert with its reason.
Nothing is recomputed: the page reads :class:`~mlscope.monitor.MonitorResult`. Every text
is escaped; no script, no external asset.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from mlscope.atomic import write_atomic
from mlscope.monitor import MonitorResult
from mlscope.report.monitor_charts import STATUS_COLOURS, Series, series_chart, status_strip

__all__ = ["monitor_html", "write_monitor_html"]

# The PSI chart shows the features that shifted most (their largest overall PSI).
_TOP_FEATURES = 5
_DECISION_CSS = {"PROMOTE": "ok", "HOLD": "hold", "ROLL BACK": "bad"}

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1f2328;
max-width:1100px;margin:2rem auto;padding:0 1.25rem;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.25rem}h2{font-size:1.15rem;margin-top:2rem}
.sub{color:#6e7781;margin-top:0}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.92rem;
table-layout:auto}
th,td{border-bottom:1px solid #d0d7de;padding:.4rem .55rem;text-align:left;vertical-align:top;
overflow-wrap:break-word}
.scroll{overflow-x:auto}td.reason{min-width:16rem}
th{background:#f6f8fa;font-weight:600;white-space:nowrap}td.k{white-space:nowrap}td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.chart{overflow-x:auto}.chart svg{max-width:100%;height:auto;display:block}
.muted{color:#6e7781}
.status{border-radius:6px;padding:.6rem .9rem;margin:1rem 0;font-weight:600}
.status.ok{background:#dafbe1;color:#116329}.status.bad{background:#ffebe9;color:#a40e26}
.status.hold{background:#fff8c5;color:#7d4e00}
.key span{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin:0 .3rem 0 .8rem;
vertical-align:-1px}
ul.why{margin:.3rem 0;padding-left:1.2rem}
"""


def _f(x: Any, pct: bool = False, sign: bool = False) -> str:
    # Three decimals (a share: one decimal of a percent) and a true minus sign, as the
    # report prints figures.
    if x is None:
        return "–"
    text = (f"{x:+.1%}" if sign else f"{x:.1%}") if pct else (
        f"{x:+.3f}" if sign else f"{x:.3f}")
    return text.replace("-", "−")


def _iv(v: Any, lo: Any, hi: Any, pct: bool = False, sign: bool = True) -> str:
    if v is None:
        return "–"
    if lo is None or hi is None:
        return _f(v, pct, sign)
    return f"{_f(v, pct, sign)} [{_f(lo, pct, sign)}, {_f(hi, pct, sign)}]"


def _psi_chart(res: MonitorResult) -> str:
    worst: dict[str, float] = {}
    for w in res.windows:
        for c in w.checks:
            if c.kind == "shift" and c.slice == "all" and "psi" in c.effects:
                worst[c.column] = max(worst.get(c.column, 0.0), c.effects["psi"])
    top = sorted(worst, key=lambda c: -worst[c])[:_TOP_FEATURES]
    if not top:
        return "<p class=muted>No feature shift was measured.</p>"
    series = []
    for col in top:
        vals: list[float | None] = []
        for w in res.windows:
            hit = next((c for c in w.checks if c.kind == "shift" and c.slice == "all"
                        and c.column == col), None)
            vals.append(hit.effects.get("psi") if hit is not None else None)
        series.append(Series(col, vals))
    gate = res.gates.get("psi")
    return series_chart("PSI of the most shifted features", series, y_label="PSI",
                        gate=float(gate) if gate is not None else None, zero=True)


def _performance_chart(res: MonitorResult) -> str:
    series = []
    metric = ""
    for m in res.models:
        est: list[float | None] = []
        lo: list[float | None] = []
        hi: list[float | None] = []
        real: list[float | None] = []
        for w in res.windows:
            p = next((p for p in w.performance if p.model == m and p.estimates), None)
            e = p.estimates[0] if p is not None else None
            metric = e.metric if e is not None else metric
            trusted = p is not None and p.trustworthy
            est.append(e.estimate if e is not None and trusted else None)
            lo.append(e.low if e is not None and trusted else None)
            hi.append(e.high if e is not None and trusted else None)
            real.append(e.realised if e is not None else None)
        series.append(Series(m, est, lo, hi, real))
    if not metric:
        return "<p class=muted>No performance estimate (the scores only rank rows).</p>"
    if _realised_only(res):
        first = next(iter(res.models.values()), {})
        ref = first.get("reference_values", {}).get(metric)
        return series_chart(f"{metric}: realised (rings) and its interval (band)", series,
                            y_label=metric, gate=ref, gate_label="reference")
    return series_chart(f"{metric}: estimated (line, band) and realised (rings)", series,
                        y_label=metric)


def _realised_only(res: MonitorResult) -> bool:
    """Regression: no label-free estimate, only realised values."""
    return any(p.estimator == "realised" for w in res.windows for p in w.performance)


def _rollout_html(res: MonitorResult) -> str:
    ro = res.rollout
    if ro is None:
        return ""
    why = "".join(f"<li>{escape(r)}</li>" for r in ro.reasons)
    rows = _unpaired_rows(ro) if ro.mode != "shadow" else _paired_rows(ro.cumulative.figures)
    figs = "".join(f"<tr><th scope=row>{escape(a)}</th><td class=num>{escape(b)}</td></tr>"
                   for a, b in rows)
    return _gate_html(ro, figs, why)


def _paired_rows(f: Any) -> list[tuple[str, str]]:
    rows = [("agreement at the thresholds", _iv(f.agreement.value, f.agreement.low,
                                                 f.agreement.high, pct=True, sign=False)),
            ("positive rate: candidate vs production",
             f"{_f(f.positive_rate_candidate, True)} vs {_f(f.positive_rate_production, True)}"),
            ("positive-rate difference (McNemar)",
             _iv(f.positive_rate_difference.value, f.positive_rate_difference.low,
                 f.positive_rate_difference.high, pct=True)
             + (f" (p = {f.positive_rate_difference.p:.2g})"
                if f.positive_rate_difference.p is not None else "")),
            ("score shift between the models",
             f"PSI {_f(f.score_shift.get('psi'))}, KS p = "
             + ("–" if f.score_shift.get("ks_p") is None
                else f"{f.score_shift['ks_p']:.2g}".replace("-", "−")))]
    rows += [(f"estimated {k} difference (paired CBPE)", _iv(v.value, v.low, v.high))
             for k, v in f.estimated.items()]
    return rows


def _unpaired_rows(ro: Any) -> list[tuple[str, str]]:
    cum, f = ro.cumulative, ro.cumulative.figures
    info = ro.unpaired or {}
    d = f.positive_rate_difference
    rows = [("rows served: production, candidate (share)",
             f"{f.rows_production:,}, {f.rows_candidate:,} ({_f(f.candidate_share, True)})"),
            ("labelled rows: production, candidate",
             f"{cum.labelled_production:,}, {cum.labelled_candidate:,}"),
            # The power calculation explains a HOLD; beside a decision already taken it
            # would read as a contradiction ("needs 12,846" under PROMOTE on 2,000 rows).
            ("labelled rows each arm needs to decide (power 80%)",
             f"~{info['rows_needed_per_arm']:,}"
             if info.get("rows_needed_per_arm") and ro.decision == "HOLD" else "–"),
            ("positive rate: candidate vs production",
             f"{_f(f.positive_rate_candidate, True)} vs {_f(f.positive_rate_production, True)}"),
            ("positive-rate difference (Newcombe, unpaired)",
             _iv(d.value, d.low, d.high, pct=True)
             + (f" (Fisher p = {d.p:.2g})" if d.p is not None else "")),
            ("score shift between the arms", f"PSI {_f(f.score_shift.get('psi'))}")]
    if info.get("switch"):
        rows.insert(0, ("cut-over (switch)", str(info["switch"])))
    rows += [(f"estimated {k} difference (CBPE per arm)", _iv(v.value, v.low, v.high))
             for k, v in f.estimated.items()]
    return rows


def _gate_html(ro: Any, figs: str, why: str) -> str:
    cum, f = ro.cumulative, ro.cumulative.figures
    gates = "".join(
        f"<tr><td>{'✓' if g.passed else '✗'}</td><td>{escape(g.metric)}</td>"
        f"<td>{escape(g.slice)}</td><td>{escape(g.kind)} {g.margin:g}</td>"
        f"<td class=num>{escape(_iv(g.difference, g.lower, g.upper))}</td>"
        f"<td class=reason>{escape(g.reason)}</td></tr>"
        for g in cum.gates if g.slice == "overall" or not g.passed)
    gate_table = (
        "<div class=scroll><table><thead><tr><th></th><th>metric</th><th>slice</th>"
        f"<th>gate</th><th>candidate − production</th><th>reason</th></tr></thead>"
        f"<tbody>{gates}</tbody></table></div>"
        if gates else f"<p class=muted>{escape(cum.note)}</p>")
    diffs = [Series(g_id, [next((g.difference for g in w.gates if g.metric == g_id
                                 and g.slice == "overall"), None) for w in ro.windows],
                    [next((g.lower for g in w.gates if g.metric == g_id
                           and g.slice == "overall"), None) for w in ro.windows],
                    [next((g.upper for g in w.gates if g.metric == g_id
                           and g.slice == "overall"), None) for w in ro.windows])
             for g_id in dict.fromkeys(g.metric for g in cum.gates)]
    chart = ""
    if diffs and any(v is not None for s in diffs for v in s.values):
        svg = series_chart("Realised difference per window (the gate's interval)",
                           diffs, y_label="cand − prod", zero=True)
        chart = f'<div class="chart">{svg}</div>'

    title = {"shadow": "Shadow", "canary": "Canary", "blue_green": "Blue-green"}.get(
        ro.mode, "Rollout")
    kind = "shadow rows" if ro.mode == "shadow" else "rows (unpaired: one model per row)"
    return (
        f"<h2>{title} gate: {escape(ro.candidate)} vs {escape(ro.production)}</h2>"
        f'<div class="status {_DECISION_CSS.get(ro.decision, "hold")}" role="status">'
        f"{escape(ro.decision)} — {cum.labelled:,} labelled of {f.rows:,} {kind}</div>"
        f'<ul class="why">{why}</ul>'
        f"<div class=scroll><table><tbody>{figs}</tbody></table></div>{gate_table}{chart}")


def monitor_html(res: MonitorResult) -> str:
    """The page as text."""
    statuses = [w.status for w in res.windows]
    labels = [f"#{w.index} {w.start[:16].replace('T', ' ')} ({w.rows:,} rows)"
              for w in res.windows]
    alerts = "".join(
        f"<tr><td class=num>#{w.index}</td><td class=num>"
        f"{escape(w.start[:16].replace('T', ' '))}</td>"
        f"<td class=k>{escape(c.kind)}</td><td class=k>{escape(c.column)}</td>"
        f"<td class=k>{escape(c.slice)}</td>"
        f"<td class=reason>{escape(c.reason)}</td></tr>"
        for w in res.windows for c in w.alerts)
    untrusted = "".join(
        f"<tr><td class=num>#{w.index}</td><td>{escape(p.model)}</td>"
        f"<td class=reason>{escape('; '.join(p.reasons))}</td></tr>"
        for w in res.windows for p in w.performance if not p.trustworthy)
    key = "".join(f'<span style="background:{c}"></span>{escape(s)}'
                  for s, c in STATUS_COLOURS.items())
    n = len(res.alerting)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>Monitor of {escape(res.project)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Monitor of {escape(res.project)}</h1>"
        f"<p class=sub>{len(res.windows)} window(s) against the reference split "
        f"<code>{escape(str(res.reference.get('split')))}</code> "
        f"({res.reference.get('rows', 0):,} rows); {n} raised an alert; exit code "
        f"{res.exit_code}.</p>"
        f'<div class="chart">{status_strip(statuses, labels)}</div>'
        f'<p class="key muted">{key}</p>'
        f"{_rollout_html(res)}"
        "<h2>Inputs: distribution shift</h2>"
        f'<div class="chart">{_psi_chart(res)}</div>'
        + ("<h2>Performance: realised once labels arrive</h2>"
           f'<div class="chart">{_performance_chart(res)}</div>'
           "<p class=muted>No label-free estimate for regression; realised once labels "
           "arrive. A realised metric alerts when its interval lies beyond the reference's "
           f"value by more than alert.performance ({res.gates.get('performance', 0):.0%} "
           "worse).</p>" if _realised_only(res) else
           "<h2>Performance: estimated before labels, realised after</h2>"
           f'<div class="chart">{_performance_chart(res)}</div>'
           "<p class=muted>A window marked not trustworthy shows no estimate.</p>")
        + f"<h2>Alerts ({sum(len(w.alerts) for w in res.windows)})</h2>"
        + ("<div class=scroll><table><thead><tr><th>window</th><th>start</th><th>check</th>"
           "<th>column</th><th>slice</th><th>reason</th></tr></thead>"
           f"<tbody>{alerts}</tbody></table></div>"
           if alerts else "<p class=muted>None.</p>")
        + ("<h2>Estimates not trustworthy</h2><div class=scroll><table><thead><tr>"
           f"<th>window</th><th>model</th><th>why</th></tr></thead><tbody>{untrusted}"
           "</tbody></table></div>"
           if untrusted else "")
        + "".join(f"<p class=muted>warning: {escape(t)}</p>" for t in res.warnings)
        + "</body></html>\n")


def write_monitor_html(res: MonitorResult, folder: Path) -> Path:
    """Write ``monitor.html`` into ``folder`` (atomically); returns its path."""
    return write_atomic(Path(folder) / "monitor.html", monitor_html(res))
