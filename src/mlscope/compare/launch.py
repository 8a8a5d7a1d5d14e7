"""The launch verdict: ship, keep production, ship the rule, not good enough, or undecided.

:func:`launch_verdict` walks the decision table of ``docs/deciding.md`` ("The verdict") on
plain data: the requirement checks of every candidate and predicting baseline, and the
paired differences against the selected model on the requirement split (overall, on the
metric the rule optimises). The pipeline's verdict stage (:mod:`mlscope.pipeline.verdict`)
gathers them; tests call it on constructed cases.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from mlscope.compare.figures import decimals, interval_text, signed_text
from mlscope.result import CheckResult, Difference, RequirementCheck, Verdict, VerdictReason

__all__ = ["LaunchInputs", "Lead", "launch_verdict", "requirement_rows", "rows_to_decide",
           "signed"]

# A decided verdict (something meets every requirement and is recommended) exits 0.
_EXIT_ZERO = ("ship", "keep_production", "ship_rule")


@dataclass
class LaunchInputs:
    """What the verdict reads (see :func:`launch_verdict`).

    ``baselines`` maps each predicting baseline to its family (``trivial``, ``learned``,
    ``rule``); ``requirements`` each model to its requirement checks on ``split``;
    ``values`` each model's value of ``metric`` there; ``differences`` the paired
    differences on ``split``, overall, on ``metric`` (any orientation); ``margins`` the
    ``must_beat`` baselines with their margins; ``rows`` the rows of ``split``;
    ``status_exit`` the exit code the requirement status alone gives (kept when
    undecided); ``trivial`` each model's lead over the best trivial baseline (the
    standings'), which a baseline must beat beyond its interval to be shipped while a
    trivial baseline meets every requirement.
    """

    metric: str | None
    direction: Literal["higher", "lower"]
    split: str | None
    rows: int | None
    winner: str | None
    candidates: list[str]
    baselines: dict[str, str]
    requirements: dict[str, list[RequirementCheck]]
    values: dict[str, float | None] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    margins: dict[str, float] = field(default_factory=dict)
    blessed: str | None = None
    runner_up: str | None = None
    tied: list[str] = field(default_factory=list)
    check: CheckResult | None = None
    next_step: str | None = None
    status_exit: int = 1
    no_decision_note: str = ""
    # Each model's lead over the best trivial baseline on ``metric`` and ``split``
    # (positive favours the model), with its interval: the standings' ``vs_trivial``.
    trivial: dict[str, Lead] = field(default_factory=dict)


@dataclass
class Lead:
    """``a − b`` on the metric, oriented so that positive favours ``a``, with its paired
    interval (None when intervals are off or the difference is undefined)."""

    a: str
    b: str
    value: float
    lower: float | None
    upper: float | None

    @property
    def has_interval(self) -> bool:
        return self.lower is not None and self.upper is not None

    def beats(self, margin: float = 0.0) -> bool:
        """``a`` beats ``b`` by more than ``margin``: the interval's lower end clears it
        (the point value when there is no interval)."""
        if self.lower is not None and self.upper is not None:
            return self.lower > margin
        return self.value > margin

    def text(self) -> str:
        return interval_text(self.value, self.lower, self.upper)

    def figures(self, margin: float = 0.0) -> dict[str, float | None]:
        return {"lead": self.value, "lower": self.lower, "upper": self.upper,
                "margin": margin}


def signed(x: float) -> str:
    """``+0.006`` / ``−0.0071`` / ``+137`` (a true minus sign), three significant digits."""
    return signed_text(x)


def _num(x: float | None) -> str:
    """A metric's value with three significant digits (at most 6 decimals)."""
    return "undefined" if x is None else f"{x:.{decimals(x)}f}".replace("-", "−")


def rows_to_decide(rows: int | None, lead: Lead, margin: float = 0.0) -> int | None:
    """About how many more labelled rows would make ``lead``'s interval clear ``margin``.

    An interval's width scales as ``1/√n``; to shrink its half-width ``h`` to the distance
    ``|lead − margin|`` takes ``n·(h/|lead − margin|)²`` rows, that is
    ``N ≈ n·((h/|lead − margin|)² − 1)`` more. None when it cannot be estimated (no rows,
    no interval, or a lead exactly at the margin, which no amount of rows decides).
    """
    if rows is None or rows <= 0 or lead.lower is None or lead.upper is None:
        return None
    half = (lead.upper - lead.lower) / 2.0
    needed = abs(lead.value - margin)
    if needed <= 0.0 or half <= 0.0:
        return None
    more = rows * ((half / needed) ** 2 - 1.0)
    if more <= 0:
        return 0
    digits = max(math.floor(math.log10(more)) - 1, 0)
    return int(round(more / 10 ** digits) * 10 ** digits)


def _lead(inp: LaunchInputs, a: str, b: str) -> Lead | None:
    """``a`` against ``b`` on the metric, oriented, from the paired differences (the point
    values when no difference was computed)."""
    sign = 1.0 if inp.direction == "higher" else -1.0
    for d in inp.differences:
        if d.value is None or {d.model, d.reference} != {a, b}:
            continue
        flip = sign if d.model == a else -sign
        lo = None if d.lower is None else flip * d.lower
        hi = None if d.upper is None else flip * d.upper
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        return Lead(a=a, b=b, value=flip * d.value, lower=lo, upper=hi)
    va, vb = inp.values.get(a), inp.values.get(b)
    if va is None or vb is None:
        return None
    return Lead(a=a, b=b, value=sign * (va - vb), lower=None, upper=None)


def _meets(inp: LaunchInputs, model: str) -> bool:
    return model in inp.requirements and all(r.met for r in inp.requirements[model])


def _misses(inp: LaunchInputs, model: str) -> list[RequirementCheck]:
    return [r for r in inp.requirements.get(model, []) if not r.met]


def _gap(r: RequirementCheck) -> float:
    """How far a missed requirement is, relative to the value (undefined: infinitely)."""
    if r.margin is None or r.value is None:
        return math.inf
    return abs(r.margin) / max(abs(r.value), 1e-12)


def _nearest(inp: LaunchInputs, models: Sequence[str]) -> tuple[str, RequirementCheck] | None:
    """The model nearest to meeting every requirement (fewest misses, then the smallest
    relative gap) and its nearest missed requirement."""
    best: tuple[int, float, str, RequirementCheck] | None = None
    for m in models:
        miss = _misses(inp, m)
        if not miss:
            continue
        worst = max(miss, key=_gap)
        nearest = min(miss, key=_gap)
        key = (len(miss), _gap(worst), m, nearest)
        if best is None or key[:2] < best[:2]:
            best = key
    return None if best is None else (best[2], best[3])


def _decided(r: RequirementCheck) -> str:
    """The value a requirement was decided on: the certified bound, with the point beside
    it, for ``decide_on: bound`` ("precision 0.723 misses >= 0.65" read as a contradiction
    where the bound 0.597 was what missed)."""
    if r.decided_on == "bound" and r.certified is not None:
        return f"bound {_num(r.certified)} (point {_num(r.value)})"
    return _num(r.value)


def _figure(r: RequirementCheck) -> str:
    """A requirement's label and :func:`_decided`."""
    return f"{r.label} {_decided(r)}"


def _requirement_reason(model: str, checks: Sequence[RequirementCheck]) -> VerdictReason:
    if not checks:
        return VerdictReason(f"{model}: the charter sets no requirements")
    met = sum(r.met for r in checks)
    parts = [f"{_figure(r)} ({r.bound})" for r in checks]
    return VerdictReason(
        f"{model} meets {met} of {len(checks)} requirements on {checks[0].split}: "
        + ", ".join(parts),
        {r.label: r.value for r in checks})


def _what(inp: LaunchInputs, model: str) -> str:
    fam = inp.baselines.get(model)
    if fam is None:
        return model
    return f"the {fam} baseline {model}"


def _verdict(inp: LaunchInputs, kind: str, headline: str, model: str | None,
             reasons: list[VerdictReason], **extra: object) -> Verdict:
    """The verdict of ``kind``, with every model's requirement checks and the exit code
    the kind gives."""
    code = 0 if kind in _EXIT_ZERO else (inp.status_exit if kind == "undecided" else 1)
    everyone = [r for m in [*inp.candidates, *inp.baselines]
                for r in inp.requirements.get(m, [])]
    v = Verdict(kind=kind, headline=headline, model=model,  # type: ignore[arg-type]
                metric=inp.metric, split=inp.split, reasons=reasons,
                requirements=everyone, margins=dict(inp.margins), exit_code=code)
    for k, val in extra.items():
        setattr(v, k, val)
    return v


def launch_verdict(inp: LaunchInputs) -> Verdict:
    """The verdict, by the decision table of ``docs/deciding.md`` (first row that applies):

    1. nobody (candidate or baseline) meets every requirement → ``not_good_enough``;
    2. the blessed model meets every requirement and the selected model does not beat it
       beyond its paired interval (or misses a requirement, or fails ``mlscope check``'s
       gates, or there is none) → ``keep_production``;
    3. a baseline that meets every requirement is not beaten beyond its paired interval
       (plus its ``must_beat`` margin) by the selected model, or there is no selected
       model → ``ship_rule`` (the best such baseline on the metric);
    4. no selected model meeting every requirement (or it fails the check's gates, or it
       does not beat a ``must_beat`` baseline beyond margin) → ``not_good_enough``, or
       ``undecided`` on a tie;
    5. the runner-up also meets every requirement and the winner's lead over it has an
       interval that includes 0 → ``undecided``, with the rows that would decide it;
    6. otherwise → ``ship`` the selected model.
    """
    w, metric = inp.winner, inp.metric or "the optimised metric"
    models = [*inp.candidates, *inp.baselines]
    everyone_reqs = [r for m in models for r in inp.requirements.get(m, [])]
    # Leads are read on the verdict's split, which may differ from the split the rule
    # selected on: each names it, so the two never seem to contradict each other.
    on = f"{metric} ({inp.split})" if inp.split else metric
    # With no requirements in the charter, "meets every requirement" would be vacuous.
    meets = (", and it meets every requirement" if everyone_reqs
             else " (the charter sets no requirements)")

    def done(kind: str, headline: str, model: str | None, reasons: list[VerdictReason],
             **extra: object) -> Verdict:
        return _verdict(inp, kind, headline, model, reasons, **extra)

    # 1. Nobody meets the requirements.
    if not any(_meets(inp, m) for m in models):
        near = _nearest(inp, models)
        reasons = [VerdictReason("no candidate and no baseline meets every requirement"
                                 + (f" on {inp.split}" if inp.split else ""))]
        head = "Not good enough: no model meets the requirements"
        nearest = None
        model = None
        if near is not None:
            model, nearest = near
            gap = "undefined" if nearest.margin is None else _num(abs(nearest.margin))
            head += (f"; nearest: {model}'s {_figure(nearest)} "
                     f"misses {nearest.bound} by {gap}")
            need = f"needs {nearest.bound}, short by {gap}"
            on_bound = nearest.decided_on == "bound" and nearest.certified is not None
            reasons.append(VerdictReason(
                f"nearest: {model}, {nearest.label} bound {_num(nearest.certified)} (point "
                f"{_num(nearest.value)}; {need})" if on_bound else
                f"nearest: {model}, {nearest.label} {_num(nearest.value)} ({need})",
                {"value": nearest.value, "lower": nearest.lower, "upper": nearest.upper,
                 "gap": None if nearest.margin is None else abs(nearest.margin)}))
        if inp.next_step:
            reasons.append(VerdictReason(f"next step (diagnosis): {inp.next_step}"))
        return done("not_good_enough", head, model, reasons, nearest=nearest,
                    next_step=inp.next_step)

    check_failed = (inp.check is not None and w is not None and not inp.check.keep
                    and inp.check.candidate == w and not inp.check.passed)
    w_ok = w is not None and _meets(inp, w) and not check_failed

    # 2. Keep the model in production.
    b = inp.blessed
    if b is not None and _meets(inp, b):
        reasons = [_requirement_reason(b, inp.requirements.get(b, []))]
        keep = False
        if w is None or w == b:
            keep = True
            reasons.insert(0, VerdictReason(
                f"the selection rule picks the production model {b} itself" if w == b else
                "the selection rule chose no candidate"))
        elif not w_ok:
            keep = True
            why = ("fails mlscope check's gates against it" if check_failed
                   else "misses a requirement")
            reasons.insert(0, VerdictReason(f"the selected model {w} {why}"))
        else:
            lead = _lead(inp, w, b)
            if lead is not None and not lead.beats(0.0):
                keep = True
                reasons.insert(0, VerdictReason(
                    f"{w}'s lead over {b} on {on} is {lead.text()}: not beyond its "
                    "paired interval", lead.figures()))
        if keep:
            return done("keep_production",
                        f"Keep {b} in production: no candidate beats it beyond its "
                        "interval", b, reasons)

    # 3. Ship the rule (or simple baseline) when the model does not beat it.
    unbeaten: list[tuple[str, Lead | None]] = []
    for base in inp.baselines:
        if not _meets(inp, base):
            continue
        if w is None or not w_ok:
            unbeaten.append((base, None))
            continue
        lead = _lead(inp, w, base)
        if lead is not None and not lead.beats(inp.margins.get(base, 0.0)):
            unbeaten.append((base, lead))
    # While a trivial baseline (a constant) meets every requirement, the burden of proof
    # reaches it too: a baseline is shipped only when it beats the trivial one beyond its
    # interval. "Ship the rule" for a rule no better than a coin flip read as a
    # recommendation (Smarket: a reversal rule, ROC AUC 0.564, interval down to 0.5).
    floor = _trivial_floor(inp)
    useless = [(m, ld) for m, ld in unbeaten if floor and not _shows_skill(inp, m)]
    if useless and len(useless) == len(unbeaten):
        assert floor is not None
        return _no_skill(inp, w, w_ok, floor, [m for m, _ in useless], on)
    unbeaten = [u for u in unbeaten if u not in useless]
    if unbeaten:
        base, lead = max(unbeaten, key=lambda item: _standing(inp, item[0]))
        margin = inp.margins.get(base, 0.0)
        reasons = []
        if lead is not None:
            more = rows_to_decide(inp.rows, lead, margin) if lead.value > margin else None
            needs = f" more than {signed(margin)}" if margin else ""
            text = (f"{w}'s lead over {base} on {on} is {lead.text()}: not beyond its "
                    f"paired interval{needs}")
            if more:
                text += f" (about {more:,} more labelled rows could show it)"
            reasons.append(VerdictReason(text, {**lead.figures(margin), "rows_needed": more}))
        elif w is None:
            reasons.append(VerdictReason("the selection rule chose no candidate"
                                         + (f": {inp.no_decision_note}"
                                            if inp.no_decision_note else "")))
        else:
            why = ("fails mlscope check's gates" if check_failed
                   else "misses a requirement")
            reasons.append(VerdictReason(f"the selected model {w} {why}"))
        reasons.append(_requirement_reason(base, inp.requirements.get(base, [])))
        return done("ship_rule",
                    f"Ship {_what(inp, base)}: "
                    + ("no candidate beats it beyond its interval" if w is not None
                       else "no candidate was selected") + meets,
                    base, reasons)

    # 4. Nothing shippable was selected.
    if w is None:
        if len(inp.tied) > 1:
            return done("undecided", f"Undecided: {', '.join(inp.tied)} are tied under "
                        "the selection rule", None,
                        [VerdictReason("the selection rule ends in a tie"
                                       + (f": {inp.no_decision_note}"
                                          if inp.no_decision_note else ""))])
        near = _nearest(inp, inp.candidates)
        reasons = [VerdictReason("the selection rule chose no candidate"
                                 + (f": {inp.no_decision_note}" if inp.no_decision_note
                                    else ""))]
        if inp.next_step:
            reasons.append(VerdictReason(f"next step (diagnosis): {inp.next_step}"))
        return done("not_good_enough", "Not good enough: the selection rule chose no model",
                    None, reasons, nearest=near[1] if near else None,
                    next_step=inp.next_step)
    if not w_ok:
        miss = _misses(inp, w)
        nearest = min(miss, key=_gap) if miss else None
        reasons = [_requirement_reason(w, inp.requirements.get(w, []))]
        if check_failed and inp.check is not None:
            reasons.insert(0, VerdictReason("mlscope check fails: "
                                            + "; ".join(inp.check.failures)))
        if inp.next_step:
            reasons.append(VerdictReason(f"next step (diagnosis): {inp.next_step}"))
        head = f"Not good enough: {w} " + (
            "fails mlscope check's gates" if check_failed and not miss else
            f"misses {nearest.label} {nearest.bound}" if nearest else "fails")
        return done("not_good_enough", head, w, reasons, nearest=nearest,
                    next_step=inp.next_step)
    for base, margin in inp.margins.items():
        if base in inp.baselines:
            lead = _lead(inp, w, base)
            if lead is not None and not lead.beats(margin):
                return done("not_good_enough",
                            f"Not good enough: {w} does not beat {base} by more than "
                            f"{signed(margin)} beyond its interval", w,
                            [VerdictReason(f"must_beat {base}: {w}'s lead on {on} is "
                                           f"{lead.text()}", lead.figures(margin))])

    reasons = [_requirement_reason(w, inp.requirements.get(w, []))]
    for base in inp.baselines:
        lead = _lead(inp, w, base)
        if lead is not None and _meets(inp, base):
            reasons.append(VerdictReason(
                f"{w} beats {_what(inp, base)} on {on} by {lead.text()}",
                lead.figures(inp.margins.get(base, 0.0))))
    if b is not None and b != w:
        lead = _lead(inp, w, b)
        if lead is not None and lead.beats(0.0):
            reasons.append(VerdictReason(
                f"{w} beats the production model {b} on {on} by {lead.text()}",
                lead.figures()))
        elif lead is not None:
            # Row 2 keeps a production model that meets every requirement and is not
            # beaten, so this one misses a requirement: say that, not "beats by −0.010".
            reasons.append(VerdictReason(
                f"the production model {b} misses a requirement; {w}'s lead over it on "
                f"{on} is {lead.text()}", lead.figures()))

    # 5. Undecided between the winner and the runner-up.
    r = inp.runner_up
    # The other models that meet every requirement and that w was shown to beat (rows 2
    # and 3 stop at any it does not): the ship headline names no more than these.
    beaten = [m for m in [*inp.baselines, *([b] if b is not None and b != w else [])]
              if _meets(inp, m) and (ld := _lead(inp, w, m)) is not None
              and ld.beats(inp.margins.get(m, 0.0))]
    if r is not None and r != w and _meets(inp, r):
        lead = _lead(inp, w, r)
        if (lead is not None and lead.lower is not None and lead.upper is not None
                and lead.upper < 0.0):
            # The runner-up leads beyond its interval on the verdict's split, though the
            # rule picked w on the selection split: shipping w would contradict the held-out
            # rows (the reason said "w beats the runner-up by −0.05 [−0.08, −0.02]").
            reasons.insert(0, VerdictReason(
                f"{r}'s lead over the selected {w} on {on} is "
                f"{Lead(a=r, b=w, value=-lead.value, lower=-lead.upper, upper=-lead.lower).text()}"
                f" (positive favours {r}): beyond its interval, so the split the rule chose "
                f"on and the {inp.split or 'verdict'} split disagree; look for a shift "
                "between them before choosing",
                lead.figures()))
            return done("undecided", f"Undecided between {w} and {r}: the rule picks {w}, "
                        f"but {r} is better on {on} beyond its interval", w, reasons)
        if (lead is not None and lead.lower is not None and lead.upper is not None
                and lead.lower <= 0.0 <= lead.upper and lead.upper > lead.lower):
            more = rows_to_decide(inp.rows, lead)
            # The lead is oriented (positive favours w) and may be negative: the rule picks
            # on the selection split, the lead is read on the verdict's split.
            text = (f"{w}'s lead over the runner-up {r} on {on} is {lead.text()} "
                    f"(positive favours {w}): the ranking could flip within the interval")
            if more:
                text += f"; about {more:,} more labelled rows would decide it"
            reasons.insert(0, VerdictReason(text, {**lead.figures(), "rows_needed": more}))
            head = f"Undecided between {w} and {r}: the intervals are too wide"
            if more:
                head += f"; about {more:,} more labelled rows would decide it"
            return done("undecided", head, w, reasons, rows_needed=more)
        if lead is not None and lead.value > 0.0:
            reasons.append(VerdictReason(
                f"{w} beats the runner-up {r} on {on} by {lead.text()}",
                lead.figures()))
            if lead.has_interval:
                beaten.append(r)
        elif lead is not None and lead.value < 0.0 and not lead.has_interval:
            # No interval (intervals are off) and the runner-up ahead at its point value.
            reasons.append(VerdictReason(
                f"the runner-up {r} is ahead of {w} on {on} by "
                f"{signed(-lead.value)} (no interval): the rule picked {w} on the split it "
                "chooses on", lead.figures()))
    elif r is not None and r != w:
        miss = _misses(inp, r)
        if miss:
            worst = min(miss, key=_gap)
            reasons.append(VerdictReason(
                f"the runner-up {r} misses {worst.label} {worst.bound} "
                f"({_decided(worst)})",
                {"model": r, "value": worst.value}))

    # 6. Ship. The headline claims only what the rows above checked.
    return done("ship", f"Ship {w}: {_ship_head(inp, w, beaten, bool(everyone_reqs))}",
                w, reasons)


def _standing(inp: LaunchInputs, model: str) -> float:
    """``model``'s value of the metric, oriented so that higher is better (−∞: none)."""
    v = inp.values.get(model)
    if v is None:
        return -math.inf
    return v if inp.direction == "higher" else -v


def _trivial_floor(inp: LaunchInputs) -> str | None:
    """The best trivial baseline that meets every requirement (None when none does)."""
    floor = [b for b, fam in inp.baselines.items() if fam == "trivial" and _meets(inp, b)]
    return max(floor, key=lambda b: _standing(inp, b)) if floor else None


def _shows_skill(inp: LaunchInputs, model: str) -> bool:
    """Whether ``model`` beats the best trivial baseline beyond its interval (True when
    that is not known: no standing, as before the check)."""
    if inp.baselines.get(model) == "trivial":
        return False
    lead = inp.trivial.get(model)
    return lead is None or lead.beats(0.0)


def _no_skill(inp: LaunchInputs, w: str | None, w_ok: bool, floor: str,
              useless: Sequence[str], on: str) -> Verdict:
    """Row 3 when every baseline the selected model ``w`` does not beat is a trivial one,
    or no better than one: ``undecided`` when ``w`` meets every requirement (``w_ok``) and
    beats the trivial baseline beyond its interval (more rows would tell it from the
    rule), else ``not_good_enough``."""
    reasons: list[VerdictReason] = []
    has_reqs = any(inp.requirements.get(m) for m in [*inp.candidates, *inp.baselines])
    nearest = None
    if has_reqs:
        reasons.append(VerdictReason(
            f"{_what(inp, floor)}, a constant prediction, meets every requirement too: "
            "meeting them shows no skill"))
    wl = _lead(inp, w, floor) if w is not None and w_ok else None
    if w is not None and not w_ok:
        miss = _misses(inp, w)
        nearest = min(miss, key=_gap) if miss else None
        reasons.append(VerdictReason(f"the selected model {w} "
                                     + ("misses a requirement" if miss
                                        else "fails mlscope check's gates")))
        reasons.append(_requirement_reason(w, inp.requirements.get(w, [])))
    if wl is not None:
        reasons.append(VerdictReason(
            f"{w}'s lead over {_what(inp, floor)} on {on} is {wl.text()}"
            + ("" if wl.beats(0.0) else ": not beyond its paired interval"), wl.figures()))
    # The rules and learned baselines in question, the best on the metric first.
    rules = sorted((m for m in useless if inp.baselines.get(m) != "trivial"),
                   key=lambda m: -_standing(inp, m))
    for m in rules:
        ld = inp.trivial.get(m)
        if ld is not None:
            reasons.append(VerdictReason(
                f"{m}'s lead over {_what(inp, floor)} on {on} is {ld.text()}: not beyond "
                "its paired interval", ld.figures()))
    if w is not None and w_ok and wl is not None and wl.beats(0.0) and rules:
        base = rules[0]
        lead = _lead(inp, w, base)
        more = rows_to_decide(inp.rows, lead) if lead is not None else None
        if lead is not None:
            reasons.insert(0, VerdictReason(
                f"{w}'s lead over {base} on {on} is {lead.text()} (positive favours {w}): "
                "inside its interval" + (f"; about {more:,} more labelled rows would "
                                         "decide it" if more else ""),
                {**lead.figures(), "rows_needed": more}))
        return _verdict(inp, "undecided",
                        f"Undecided between {w} and {_what(inp, base)}: {w} beats the "
                        f"trivial baseline {floor} beyond its interval and {base} does "
                        f"not, but {w} does not beat {base} beyond its interval",
                        w, reasons, rows_needed=more)
    if inp.next_step:
        reasons.append(VerdictReason(f"next step (diagnosis): {inp.next_step}"))
    return _verdict(inp, "not_good_enough",
                    f"Not good enough: nothing beats the trivial baseline {floor} beyond "
                    "its interval" + ("" if has_reqs else
                                      " (the charter sets no requirements)"),
                    w, reasons, next_step=inp.next_step, nearest=nearest)


def _ship_head(inp: LaunchInputs, w: str, beaten: Sequence[str], has_reqs: bool) -> str:
    """Why ``w`` ships, in the words the checks support: the other models that meet every
    requirement and were beaten beyond their intervals (the production model, the
    baselines, the runner-up), or that no other model meets them."""
    others = [m for m in [*inp.candidates, *inp.baselines] if m != w and _meets(inp, m)]
    if has_reqs and not others:
        return "it is the only model that meets every requirement"
    names = list(dict.fromkeys(_what(inp, m) for m in beaten))
    if not names:
        what = "ranks first under the selection rule"
    elif set(others) <= set(beaten):
        what = ("beats every other model that meets them beyond its interval" if has_reqs
                else "beats every other model beyond its interval")
    else:
        what = (f"beats {', '.join(names)} beyond "
                + ("its interval" if len(names) == 1 else "their intervals"))
    if not has_reqs:
        return f"it {what} (the charter sets no requirements)"
    return f"it meets every requirement and {what}"


def requirement_rows(checks: Sequence[RequirementCheck]
                     ) -> Mapping[str, list[RequirementCheck]]:
    """Requirement checks grouped by model, in the order they come."""
    out: dict[str, list[RequirementCheck]] = {}
    for r in checks:
        out.setdefault(r.model, []).append(r)
    return out
