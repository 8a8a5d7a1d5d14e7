"""Gates against the blessed model, and the verdict of ``mlscope check``.

A gate is decided on an interval bound, never on a point estimate: "may regress by at most
δ" passes when the difference's lower bound (oriented so that positive is better) is at
least −δ; "must improve by at least δ" when it is at least +δ (and above 0). On slices the
question is turned around so that many small slices do not fail by chance: a slice fails
only on significant evidence that it regressed beyond δ, with the false-discovery rate
across the slices held by Benjamini–Hochberg.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

import numpy as np
import numpy.typing as npt

from mlscope.charter.schema import Charter, Gate
from mlscope.compare.figures import decimals, signed_text
from mlscope.result import (
    OVERALL,
    CheckResult,
    Difference,
    GateCheck,
    MetricInfo,
    MetricValue,
    RequirementCheck,
)

__all__ = ["CHECK_EXIT_CODES", "compared_line", "exit_line", "exit_meaning", "gate_checks",
           "headline", "markdown_summary", "verdict", "verdict_lines"]

FloatArray = npt.NDArray[np.float64]


def _diff(value: float | None, lower: float | None, upper: float | None) -> str:
    """A difference and its interval, ``+0.0213 [+0.0014, +0.0436]``."""
    d = decimals(value, lower, upper)
    return f"{signed_text(value, d)} [{signed_text(lower, d)}, {signed_text(upper, d)}]"


def _abs_margin(gate: Gate, blessed_value: float | None) -> float:
    if gate.relative:
        return gate.margin * abs(blessed_value) if blessed_value is not None else float("nan")
    return gate.margin


def gate_checks(
    ch: Charter,
    *,
    candidate: str,
    blessed: str,
    split: str,
    slices: Sequence[str],
    value: Callable[[str, str, str], MetricValue | None],
    difference: Callable[[str, str], Difference | None],
    replicates: Callable[[str, str], FloatArray | None],
    infos: Mapping[str, MetricInfo],
) -> list[GateCheck]:
    """Check every gate of the charter.

    Parameters
    ----------
    value
        ``value(model, slice, metric)`` on ``split``.
    difference
        ``difference(slice, metric)``: candidate − blessed on ``split``, with its interval.
    replicates
        ``replicates(slice, metric)``: bootstrap replicates of candidate − blessed (paired),
        for the slice tests; None when there are none.
    """
    out: list[GateCheck] = []
    for mid, gate in ch.gates.items():
        info = infos[mid]
        sign = 1.0 if info.direction == "higher" else -1.0
        bv_all = value(blessed, OVERALL, mid)
        delta = _abs_margin(gate, bv_all.value if bv_all else None)
        bound = delta if gate.kind == "superiority" else -delta
        d = difference(OVERALL, mid)
        cv = value(candidate, OVERALL, mid)
        base = dict(metric=mid, kind=gate.kind, margin=gate.margin, relative=gate.relative,
                    split=split, candidate=candidate, blessed=blessed)
        if d is None or d.value is None or d.lower is None or d.upper is None:
            why = ("undefined for the candidate or the blessed model" if d is None
                   or d.value is None else "no interval (intervals are off or too few "
                   "resamples define it): a gate is decided on the interval")
            out.append(GateCheck(**base, slice=OVERALL,  # type: ignore[arg-type]
                                 candidate_value=cv.value if cv else None,
                                 blessed_value=bv_all.value if bv_all else None,
                                 difference=d.value if d else None, lower=None, upper=None,
                                 bound=bound, oriented_lower=None, passed=False,
                                 reason=f"{mid}: {why}"))
        else:
            olo = d.lower if sign > 0 else -d.upper
            ok = olo >= bound and (gate.kind == "non-inferiority" or olo > 0)
            need = (f"improve by at least {delta:.4g}" if gate.kind == "superiority"
                    else f"regress by at most {delta:.4g}")
            # The shortfall in the interval's decimals (it once read "[−0.0150, +0.0150];
            # ... misses +0 by 0.01501"), the bound as the charter wrote it.
            dec = decimals(d.value, d.lower, d.upper)
            short = abs(olo - bound)
            short_text = f"{short:.{dec}f}" if round(short, dec) != 0 else f"{short:.2g}"
            bound_text = f"{bound * sign:+.4g}".replace("-", "−")
            reason = "" if ok else (
                f"{mid} must {need}: the difference {candidate} − {blessed} is "
                f"{_diff(d.value, d.lower, d.upper)}; its "
                f"{'lower' if sign > 0 else 'upper'} bound "
                f"{'misses' if olo < bound else 'does not clear'} {bound_text} by "
                f"{short_text}")
            out.append(GateCheck(**base, slice=OVERALL,  # type: ignore[arg-type]
                                 candidate_value=cv.value if cv else None,
                                 blessed_value=bv_all.value if bv_all else None,
                                 difference=d.value, lower=d.lower, upper=d.upper, bound=bound,
                                 oriented_lower=olo, passed=bool(ok), p_value=d.p_value,
                                 reason=reason))
        if gate.slices:
            out.extend(_slice_checks(mid, gate, sign, slices, value, difference, replicates,
                                     base, bound_of=partial(_abs_margin, gate),
                                     bounds=info.bounds, level=ch.intervals.level))
    return out


def _slice_checks(mid: str, gate: Gate, sign: float, slices: Sequence[str],
                  value: Callable[[str, str, str], MetricValue | None],
                  difference: Callable[[str, str], Difference | None],
                  replicates: Callable[[str, str], FloatArray | None],
                  base: dict[str, object], bound_of: Callable[[float | None], float],
                  bounds: tuple[float | None, float | None] = (None, None),
                  level: float = 0.95) -> list[GateCheck]:
    from mlscope.compare.paired import fdr_bh
    from mlscope.compare.slice_gate import max_regression, min_detectable, slice_test

    rows: list[GateCheck] = []
    ps: list[float] = []
    cand, bl = str(base["candidate"]), str(base["blessed"])
    for skey in slices:
        if skey == OVERALL:
            continue
        d = difference(skey, mid)
        bv = value(bl, skey, mid)
        cv = value(cand, skey, mid)
        if (d is None or d.value is None or bv is None or bv.value is None
                or d.lower is None or d.upper is None):
            # No interval: too few resamples define the metric on this slice (e.g. one or
            # two positives); the slice cannot be tested and is not counted.
            continue
        delta = bound_of(bv.value)
        # One-sided: H0 "no regression beyond δ" (oriented difference >= −δ); a small p is
        # evidence of a regression beyond δ. A normal tail (analytic SE, or the bootstrap
        # replicates' SD), never a count of replicates: counts floor p at 1 / (R + 1),
        # which Benjamini–Hochberg over many slices turns into a gate that cannot fail.
        st = slice_test(d, replicates(skey, mid), sign, delta, level)
        if st.p_value is None:
            continue
        olo = d.lower if sign > 0 else -d.upper
        rows.append(GateCheck(**base, slice=skey,  # type: ignore[arg-type]
                              candidate_value=cv.value if cv else None,
                              blessed_value=bv.value, difference=d.value, lower=d.lower,
                              upper=d.upper, bound=-delta, oriented_lower=olo, passed=True,
                              p_value=st.p_value, test=st.method, se=st.se))
        ps.append(st.p_value)
    if rows:
        # The level a lone regressed slice must reach under BH: fdr / m.
        alpha = gate.fdr / len(rows)
        rejected, adjusted = fdr_bh(np.asarray(ps), alpha=gate.fdr)
        for g, rej, adj in zip(rows, rejected, adjusted, strict=True):
            g.adjusted_p = float(adj)
            g.mde = min_detectable(g.se, abs(g.bound), alpha)
            room = max_regression(g.blessed_value, bounds, sign)
            if bool(rej):
                g.passed, g.can_fail = False, True
                g.reason = (f"{mid} on slice {g.slice} regressed beyond {abs(g.bound):.4g}: "
                            f"difference {_diff(g.difference, g.lower, g.upper)}, "
                            f"p = {g.p_value:.3g} ({g.test}; FDR-adjusted "
                            f"{adj:.3g} ≤ {gate.fdr:g} across {len(rows)} slices)")
            elif g.mde is not None:
                # A failure is never called impossible: can_fail is only judged on the
                # slices that passed.
                g.can_fail = g.mde <= room
                if not g.can_fail:
                    g.reason = (f"slice {g.slice} is too small for this gate: it would only "
                                f"detect a regression of {g.mde:.3g} (80 % power), more than "
                                f"the {room:.3g} the metric's range allows")
    return rows


def verdict(*, candidate: str, blessed: str | None, blessed_source: str, split: str,
            gates: list[GateCheck], requirements: list[RequirementCheck],
            paired: bool = True, note: str = "", keep: bool = False,
            role: str = "") -> CheckResult:
    """Combine gates and requirements into the verdict (exit code 0 pass, 1 fail).

    With ``keep`` (the rule picked the blessed model) the gates are the runner-up's,
    reported for information: only the requirements, the blessed model's, can fail.
    """
    failures = [] if keep else [g.reason for g in gates if not g.passed]
    weak = [g.slice for g in gates if g.slice != OVERALL and g.can_fail is False]
    if weak:
        note = (note + "; " if note else "") + (
            f"{len(weak)} slice(s) cannot fail their gate: too small to detect any "
            f"regression the metric's range allows ({', '.join(weak[:5])}"
            + (", …" if len(weak) > 5 else "") + ")")
    for r in requirements:
        if not r.met:
            val = "undefined" if r.value is None else f"{r.value:.4g}"
            if r.decided_on == "bound":
                # The margin is the bound's: say so, or "has 0.92 (short by 0.01)" reads as
                # a contradiction for a point that clears a `>= 0.9` requirement.
                cert = "no bound" if r.certified is None else f"{r.certified:.4g}"
                val = f"{cert} on its bound (point {val}; {r.how})"
            short = r.margin is not None and (r.decided_on != "bound" or r.certified is not None)
            failures.append(f"requirement {r.label} {r.bound} on {r.split}: {r.model} has "
                            f"{val}" + (f" (short by {-r.margin:.4g})" if short
                                        and r.margin is not None else ""))
    ok = not failures
    return CheckResult(candidate=candidate, blessed=blessed, blessed_source=blessed_source,
                       split=split, passed=ok, gates=gates, requirements=requirements,
                       failures=failures, exit_code=0 if ok else 1, paired=paired, note=note,
                       keep=keep, role=role)


CHECK_EXIT_CODES: dict[int, str] = {
    0: "every gate and requirement passes; a CI step passes",
    1: "a gate or requirement fails; a CI step fails",
}
"""What each exit code of ``mlscope check`` means (2: bad input)."""


def exit_meaning(c: CheckResult) -> str:
    """What the verdict's exit code means, in the words of this verdict."""
    if c.keep:
        return ("nothing to ship, and the blessed model meets every requirement; a CI step "
                "passes" if c.passed else "the blessed model, which stays, misses a "
                "requirement; a CI step fails")
    return CHECK_EXIT_CODES.get(c.exit_code, "")


def exit_line(c: CheckResult) -> str:
    """``exit code N: meaning``: stated once, after the verdict."""
    return f"exit code {c.exit_code}: {exit_meaning(c)}"


def headline(c: CheckResult) -> str:
    """The verdict's first line: PASS or FAIL, and what was decided."""
    mark = "PASS" if c.passed else "FAIL"
    if c.keep:
        from mlscope.compare.keep import KEEP_REASON

        return (f"{mark}: keep the blessed model {c.blessed}: {KEEP_REASON}"
                + ("" if c.passed else ", but it misses a requirement"))
    return (f"{mark}: candidate {c.candidate} against "
            + (f"the blessed {c.blessed} ({c.blessed_source})" if c.blessed else
               "the requirements only (no blessed model)")
            + f", on the {c.split} split")


def compared_line(c: CheckResult) -> str:
    """What was compared with what, when the verdict keeps the blessed model."""
    from mlscope.compare.keep import NO_RUNNER_UP

    if c.candidate == NO_RUNNER_UP:
        return (f"no other candidate is eligible under the rule: nothing was compared with "
                f"blessed {c.blessed}")
    gates = ("; its gates are reported, not applied (nothing is shipped)" if c.gates
             else "")
    return (f"compared {c.candidate} ({c.role}) with blessed {c.blessed} "
            f"({c.blessed_source}), on the {c.split} split{gates}")


def verdict_lines(c: CheckResult) -> list[str]:
    """The short text verdict a CI log shows (without the exit code: :func:`exit_line`)."""
    lines = [headline(c)]
    if c.keep:
        lines.append(f"  {compared_line(c)}")
    for g in c.gates:
        if g.slice != OVERALL and g.passed:
            continue
        mark = "✓" if g.passed else "✗"
        what = ("improve by ≥ " if g.kind == "superiority" else "regress by ≤ ") + (
            f"{g.margin:.4g}{' (relative)' if g.relative else ''}")
        where = "" if g.slice == OVERALL else f" [{g.slice}]"
        if g.passed:
            lines.append(f"  {mark} {g.metric}{where}: {what}; difference "
                         f"{_diff(g.difference, g.lower, g.upper)}")
        else:
            lines.append(f"  {mark} {g.reason}")
    n_slices = sum(1 for g in c.gates if g.slice != OVERALL)
    if n_slices:
        bad = sum(1 for g in c.gates if g.slice != OVERALL and not g.passed)
        lines.append(f"  {'✓' if not bad else '✗'} slices: {bad} of {n_slices} regressed "
                     "significantly (false-discovery rate controlled)")
        lines += _detectable_lines(c.gates)
    for r in c.requirements:
        mark = "✓" if r.met else "✗"
        d = decimals(r.value, r.lower, r.upper)
        val = "undefined" if r.value is None else f"{r.value:.{d}f}"
        who = f" ({r.model})" if c.keep else ""
        lines.append(f"  {mark} requirement {r.label} {r.bound}{who}: {val}"
                     + (f" [{r.lower:.{d}f}, {r.upper:.{d}f}]" if r.lower is not None
                        and r.upper is not None else ""))
    if c.note:
        lines.append(f"  note: {c.note}")
    return lines


def _detectable_lines(gates: Sequence[GateCheck]) -> list[str]:
    """Per gated metric, the range of the slices' minimum detectable regressions, and the
    slices that cannot fail (never one that failed: ``can_fail`` is only False on a
    slice that passed)."""
    out = []
    for mid in dict.fromkeys(g.metric for g in gates if g.slice != OVERALL):
        mine = [g for g in gates if g.slice != OVERALL and g.metric == mid
                and g.mde is not None]
        if not mine:
            continue
        lo = min(mine, key=lambda g: g.mde or 0.0)
        hi = max(mine, key=lambda g: g.mde or 0.0)
        out.append(f"    {mid}: smallest regression the slice detects (80 % power): "
                   f"{lo.mde:.3g} ({lo.slice})" if len(mine) == 1 else
                   f"    {mid}: smallest regression each slice detects (80 % power): "
                   f"{lo.mde:.3g} ({lo.slice}) to {hi.mde:.3g} ({hi.slice})")
        out += [f"    ! {g.reason}" for g in mine if g.can_fail is False]
    return out


def markdown_summary(c: CheckResult, project: str) -> str:
    """A pull-request comment: the verdict, then a table of gates and requirements."""
    icon = "✅" if c.passed else "❌"
    word = (f"keep {c.blessed}" if c.keep else "pass") if c.passed else "fail"
    out = [f"### {icon} mlscope check: {project} — {word}", ""]
    if c.keep:
        from mlscope.compare.keep import KEEP_REASON, NO_RUNNER_UP

        out.append(f"Keep the blessed model **{c.blessed}**: {KEEP_REASON}"
                   + ("" if c.passed else ", but it misses a requirement") + ".")
        out.append("")
        if c.candidate == NO_RUNNER_UP:
            out.append("No other candidate is eligible under the rule: nothing was compared.")
        else:
            out.append(f"compared **{c.candidate}** ({c.role}) with blessed **{c.blessed}** "
                       f"({c.blessed_source}), on the `{c.split}` split; the gates are "
                       "reported, not applied (nothing is shipped).")
    else:
        who = (f"**{c.candidate}** against the blessed **{c.blessed}** ({c.blessed_source})"
               if c.blessed else f"**{c.candidate}** against the requirements")
        out.append(f"{who}, on the `{c.split}` split.")
    out.append("")
    out.append(f"Exit code {c.exit_code}: {exit_meaning(c)}.")
    out.append("")
    if c.failures:
        out.append("**Failing:**")
        out += [f"- {f}" for f in c.failures]
        out.append("")
    shown = [g for g in c.gates if g.slice == OVERALL or not g.passed]
    if shown:
        out += ["| gate | slice | candidate | blessed | difference [interval] | needs | result |",
                "|---|---|---:|---:|---|---|---|"]
        for g in shown:
            need = ("≥ +" if g.kind == "superiority" else "≥ ") + f"{g.bound:.4g}"
            out.append(
                f"| {g.metric} | {g.slice} | {_plain(g.candidate_value)} | "
                f"{_plain(g.blessed_value)} | {_diff(g.difference, g.lower, g.upper)} | "
                f"oriented lower bound {need} | "
                f"{'✅' if g.passed else '❌'} |")
        out.append("")
    detectable = _detectable_lines(c.gates)
    if detectable:
        out += [f"- {line.strip().lstrip('! ')}" for line in detectable] + [""]
    if c.requirements:
        out += ["| requirement | value | interval | result |", "|---|---:|---|---|"]
        for r in c.requirements:
            ci = (f"[{r.lower:.4g}, {r.upper:.4g}]" if r.lower is not None
                  and r.upper is not None else "")
            who = f" ({r.model})" if c.keep else ""
            out.append(f"| {r.label} {r.bound}{who} | {_plain(r.value)} | {ci} | "
                       f"{'✅' if r.met else '❌'} |")
        out.append("")
    if c.note:
        out += [f"_{c.note}_", ""]
    return "\n".join(out)


def _plain(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"
