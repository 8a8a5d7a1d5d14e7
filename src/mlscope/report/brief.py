"""Rendering the brief (:class:`mlscope.plan.brief.Brief`): ``brief.md`` and ``brief.html``.

The brief's facts are composed in :mod:`mlscope.plan.brief`; here they are only formatted.
Every number is printed with four significant digits (``{:.4g}``, the terminal's and the
report's format), an interval as ``[low, high]``. Charter text is untrusted: the HTML is
rendered by Jinja with autoescaping, the markdown escapes ``<`` and ``&`` (a
markdown viewer would pass raw HTML through) and ``|`` in table cells.

The HTML page is standalone and offline (no external reference, a Content-Security-Policy
that runs no script), in the report's visual style; :func:`brief_body_html` is its body,
which the dashboard's brief page embeds.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from markupsafe import Markup

from mlscope._version import __version__
from mlscope.atomic import StagedFiles
from mlscope.plan.brief import Brief, Figure
from mlscope.report.scripts import content_security_policy
from mlscope.report.templating import template

__all__ = ["BRIEF_CSP", "FILES", "brief_body_html", "brief_html", "brief_markdown",
           "fmt", "interval", "write_brief"]

FILES = ("brief.md", "brief.html")
# No script on the page: an empty source list would also refuse all, 'none' says so.
BRIEF_CSP = content_security_policy([]).replace("script-src ;", "script-src 'none';")
"""The brief page's policy: no script at all, nothing loaded from elsewhere."""

_STAGE_WORD = {"planning": "Planning", "evaluation": "Evaluation",
               "deployment": "Deployment", "monitoring": "Monitoring"}


def fmt(x: float | None) -> str:
    """A figure as the brief prints it: four significant digits, ``—`` when missing."""
    return "—" if x is None else f"{x:.4g}"


def interval(lo: float | None, hi: float | None) -> str:
    """``[lo, hi]``, or ``""`` without an interval (an open end prints as ``…``)."""
    if lo is None and hi is None:
        return ""
    return f"[{'…' if lo is None else f'{lo:.4g}'}, {'…' if hi is None else f'{hi:.4g}'}]"


def _money(x: float | None, unit: str) -> str:
    return "—" if x is None else f"{x:,.0f} {unit}".rstrip()


def _rows(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def _iv_rows(iv: list[float | None] | None) -> str:
    if not iv:
        return ""
    lo, hi = iv[0], iv[1]
    return f"[{_rows(lo) if lo is not None else '…'}, {_rows(hi) if hi is not None else '…'}]"


def _req_rows(b: Brief) -> list[dict[str, str]]:
    out = []
    for r in b.requirements:
        met = r["met"]
        value = fmt(r["value"]) if r["model"] else "not measured"
        if r.get("decided_on") == "bound" and r.get("certified") is not None:
            # Decided on its bound: the figure "met" / "NOT met" is about ("0.7234 ...
            # NOT met" under ">= 0.65" read as a contradiction), the point beside it.
            value = f"{fmt(r['certified'])} (bound; point {value})"
        out.append({"metric": r["metric"] + ("" if r["slice"] == "overall"
                                             else f" in {r['slice']}"),
                    "bound": r["bound"], "model": r["model"] or "—",
                    "value": value,
                    "interval": interval(r["lower"], r["upper"]),
                    "met": "—" if met is None else ("met" if met else "NOT met"),
                    "css": "" if met is None else ("ok" if met else "bad")})
    return out


def _fig_rows(figs: Iterable[Figure]) -> list[dict[str, str]]:
    return [{"label": f.label, "value": fmt(f.value), "interval": interval(f.lower, f.upper),
             "note": f.note} for f in figs]


def _fea_view(b: Brief) -> dict[str, Any] | None:
    f = b.feasibility
    if f is None:
        return None
    unit = f.get("unit") or ""
    rows = [{"label": t["label"], "kind": t["kind"],
             "rows": _rows(t["rows_needed"]) if t["reachable"] else "unreachable",
             "rows_iv": _iv_rows(t["rows_interval"]),
             "label_rows": _rows(t["rows_to_label"]),
             "money": _money(t["money"], unit), "money_iv": _iv_rows(t["money_interval"]),
             "weeks": "—" if t["weeks"] is None else f"{t['weeks']:.3g}",
             "note": t["note"]} for t in f["targets"]]
    signals = [s["note"] for s in (f.get("difficulty"), f.get("need_ml"))
               if isinstance(s, dict) and s.get("note")]
    return {"metric": f["metric"], "source": f["curve_source"],
            "asymptote": fmt(f["asymptote"]),
            "asymptote_iv": interval(*(f["asymptote_interval"] or [None, None])),
            "on_hand": _rows(f["rows_on_hand"]), "on_hand_source": f["rows_on_hand_source"],
            "cost": ("—" if f["per_item"] is None else f"{f['per_item']:g} {unit}".rstrip()
                     + " per item" + (f", {f['per_week']:g} per week" if f["per_week"]
                                      else "")),
            "rows": rows, "signals": signals}


def _view(b: Brief) -> dict[str, Any]:
    return {
        "b": b, "requirements": _req_rows(b), "models": _fig_rows(b.models),
        "human": _fig_rows(b.human), "fea": _fea_view(b),
        "stages": [{**s, "name": _STAGE_WORD.get(s["stage"], s["stage"]),
                    "pct": f"{100 * s['share']:.0f}%"} for s in b.stages],
        "drivers": [{"group": g, "name": n, "level": lv or "not given", "note": note,
                     "given": bool(lv)} for g, n, lv, note in b.drivers],
        "failures": [{**fm, "value": fmt(fm["value"]),
                      "met": "—" if fm["met"] is None else ("met" if fm["met"] else "NOT met"),
                      "where": (f"{fm['metric']} in {fm['slice']}" if fm["slice"]
                                and fm["metric"] else "no slice and metric")}
                     for fm in b.failure_modes],
    }


def brief_body_html(b: Brief) -> Markup:
    """The brief's sections as HTML (with their own ``<style>``), for a page to embed.

    Uses the report's colour variables (``--ok``, ``--bad``, ``--line``, …), which the page
    that embeds it defines."""
    return Markup(template("brief_body.html.j2").render(**_view(b)))


def brief_html(b: Brief) -> str:
    """``brief.html``: a standalone, offline page (no script) in the report's style."""
    return template("brief.html.j2").render(
        b=b, body=brief_body_html(b), csp=BRIEF_CSP, version=__version__)


def _md(text: object) -> str:
    """Charter text made inert in markdown: no raw HTML passes to a viewer."""
    # `>` opens no tag and reads better raw (`>= 0.7`); `<` and `&` could start markup.
    return str(text).replace("&", "&amp;").replace("<", "&lt;")


def _cell(text: object) -> str:
    return _md(text).replace("|", "\\|").replace("\n", " ")


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return [*out, ""]


def brief_markdown(b: Brief) -> str:
    """``brief.md``: the same sections as the HTML, as markdown."""
    v = _view(b)
    L: list[str] = [f"# {_md(b.title)}", "", f"Figures from: {_md(b.source)}.", ""]
    L += ["## Goal and decision", ""]
    L += [f"- **{k}**: {_md(t)}" for k, t in b.goal] or ["- not stated"]
    if b.verdict:
        # The headline names the kind in words ("Not good enough: …"): not its id again.
        L += [f"- **Verdict:** {_md(b.verdict['headline'])}"]
    L += ["", "## Archetype", ""]
    if b.archetype:
        L += [f"**{_md(b.archetype)}** — {_md(b.archetype_text)}", ""]
        L += [f"- {_md(q)} {_md(a) if a is not None else '_not answered_'}"
              for q, a in b.questions]
    else:
        L += ["Not stated."]
    L += ["", "## Requirements and their evidence", ""]
    if v["requirements"]:
        L += _table(["requirement", "bound", "model", "value", "interval", "met"],
                    [[r["metric"], r["bound"], r["model"], r["value"], r["interval"],
                      r["met"]] for r in v["requirements"]])
    else:
        L += ["No requirement is stated.", ""]
    L += ["## Baselines and human level", ""]
    if v["models"]:
        L += [f"On {_md(b.metric)}:", ""]
        L += _table(["model", "kind", b.metric or "value", "interval"],
                    [[m["label"], m["note"], m["value"], m["interval"]] for m in v["models"]])
    if v["human"]:
        L += _table(["human level", "items", b.metric or "value", "interval"],
                    [[h["label"], h["note"], h["value"], h["interval"]] for h in v["human"]])
    if not v["models"] and not v["human"]:
        L += ["No figures yet.", ""]
    L += ["## Feasibility and cost", ""]
    L += _table(["driver", "group", "stated", "note"],
                [[d["name"], d["group"], d["level"], d["note"]] for d in v["drivers"]])
    fea = v["fea"]
    if fea:
        L += [f"Learning curve of {_md(fea['metric'])} ({_md(fea['source'])}): levels off "
              f"at {fea['asymptote']} {fea['asymptote_iv']}; {fea['on_hand']} labelled rows "
              f"on hand ({_md(fea['on_hand_source'])}); label cost {_md(fea['cost'])}.", ""]
        L += _table(["target", "rows needed", "interval", "rows to label", "cost",
                     "cost interval", "weeks"],
                    [[r["label"], r["rows"], r["rows_iv"], r["label_rows"], r["money"],
                      r["money_iv"], r["weeks"]] for r in fea["rows"]])
        L += [f"- {_md(s)}" for s in fea["signals"]] + ([""] if fea["signals"] else [])
    L += ["## Failure modes and their slices", ""]
    if v["failures"]:
        L += _table(["failure", "slice and metric", "requirement", "checked", "value", "met"],
                    [[f["failure"], f["where"], f["requirement"] or "—",
                      "yes" if f["checked"] else "no", f["value"], f["met"]]
                     for f in v["failures"]])
    else:
        L += ["None written down.", ""]
    L += ["## Rollout and monitoring plan", ""]
    L += [f"- **{_md(k)}**: {_md(x)}" for k, x in b.deployment]
    L += [f"- **rollout**: {' → '.join(_md(s) for s in b.rollout) or 'not stated'}"]
    L += [f"- **monitor {_md(k)}**: {', '.join(_md(m) for m in ms)}"
          for k, ms in b.monitoring.items()] or ["- **monitoring**: not stated"]
    L += ["", "## Readiness", ""]
    L += [f"- {s['name']}: {s['ready']}/{s['total']} ({s['pct']})" for s in v["stages"]]
    L += ["", "## Evidence found", ""]
    L += [f"- {_md(t)}: {_md(line)}" for t, line in b.found] or ["- none"]
    L += ["", "## Evidence missing", ""]
    L += [f"- {_md(t)}: {_md(w)} — fix: {_md(fix)}" for t, w, fix in b.missing] or ["- none"]
    L += ["", "## Open items", ""]
    L += [f"- {_md(t)}: {_md(n)}" for t, n in b.open_items]
    L += [f"- figure wanted — {_md(w)}" for w in b.wanting]
    if not b.open_items and not b.wanting:
        L += ["- none"]
    return "\n".join(L).rstrip() + "\n"


def write_brief(b: Brief, out: Path) -> list[Path]:
    """Write ``brief.md`` and ``brief.html`` into ``out`` together and atomically (both are
    rendered before either is staged: an error leaves the old pair as it was)."""
    data = {"brief.md": brief_markdown(b), "brief.html": brief_html(b)}
    with StagedFiles(out) as staged:
        for name in FILES:
            staged.put(name, data[name])
        staged.commit()
    return [out / n for n in FILES]
