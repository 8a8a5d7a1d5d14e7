"""A portfolio of candidate projects: impact and feasibility scored from their drivers,
with ranges, and ranked.

A portfolio file lists projects; each is a charter (its ``planning:`` section supplies
the drivers) or a short inline entry::

    title: Insurer ML projects
    projects:
      - charter: ../caravan/mlscope.yaml
      - name: claims triage
        archetype: human_in_the_loop
        impact: {cheap_prediction: high, removing_friction: {level: high, note: ...}}
        feasibility: {labelled_rows: 40000, human_can_do: yes, accuracy_requirement: medium}

How a score is made (docs/planning-portfolio.md), kept simple on purpose:

- every driver's level is a third of the scale: ``low`` = [0, 1/3], ``medium`` = [1/3,
  2/3], ``high`` = [2/3, 1]; its point is the middle (1/6, 1/2, 5/6);
- drivers that make a project *harder* count reversed (a high accuracy requirement or
  cost of errors is a low feasibility); ``human_can_do`` yes/partly/no is high/medium/low;
  ``labelled_rows`` ≥ 100,000 is high, ≥ 1,000 medium, fewer low;
- a driver not given is unknown: the whole scale [0, 1], point 1/2 — it widens the range;
- a score is the mean of its drivers' points, and its range the means of their low and
  high ends. Projects are ranked by impact + feasibility (points), ties by name.

Everything here is pure data; the report layer draws the 2×2 and the tables.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mlscope.charter.planning import Driver, FeasibilityDrivers, ImpactDrivers, PlanningSpec
from mlscope.charter.positions import index_yaml, yaml_problem
from mlscope.charter.yaml_safe import MAX_BYTES, CharterLoader, YamlLimitError
from mlscope.errors import InputError, Problem, did_you_mean
from mlscope.paths import project_file

__all__ = [
    "FEASIBILITY_DRIVERS",
    "IMPACT_DRIVERS",
    "LEVEL_RANGE",
    "DriverScore",
    "Portfolio",
    "PortfolioError",
    "Project",
    "Score",
    "load_portfolio",
    "score_project",
]

LEVEL_RANGE: dict[str, tuple[float, float]] = {
    "low": (0.0, 1 / 3), "medium": (1 / 3, 2 / 3), "high": (2 / 3, 1.0)}
UNKNOWN = (0.0, 1.0)
IMPACT_DRIVERS = ("cheap_prediction", "removing_friction", "automating_pipeline")
FEASIBILITY_DRIVERS = ("labelled_rows", "data_stability", "human_can_do",
                       "accuracy_requirement", "cost_of_errors")
# Drivers whose high level makes the project harder: they count reversed.
_REVERSED = {"accuracy_requirement", "cost_of_errors"}
_HUMAN = {"yes": "high", "partly": "medium", "no": "low"}
ROWS_HIGH, ROWS_MEDIUM = 100_000, 1_000
_MAX_PROJECTS = 200
_ENTRY_KEYS = ("name", "charter", "archetype", "note", "impact", "feasibility")
_FIX_DRIVERS = ("give the drivers inline, e.g. `impact: {cheap_prediction: high}` and "
                "`feasibility: {labelled_rows: 5000, human_can_do: yes}`, or `charter: "
                "path/to/mlscope.yaml` whose `planning:` has them")


class PortfolioError(InputError):
    """A portfolio file that cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        head = f"the portfolio has {len(problems)} problem(s):"
        super().__init__(head + "".join(f"\n  - {p}" for p in problems))


@dataclass
class DriverScore:
    """One driver's part in a score.

    Attributes
    ----------
    driver
        The driver's key.
    given
        As written (``"high"``, ``"5822"``, ``"yes"``), or ``None`` when not given.
    level
        The level it counts as (reversed drivers already turned), or ``"unknown"``.
    lo, hi, point
        Its range and point on the 0–1 scale.
    note
        The note written with it, or how the level was read.
    """

    driver: str
    given: str | None
    level: str
    lo: float
    hi: float
    point: float
    note: str = ""


@dataclass
class Score:
    """A score with its range: the mean of the drivers' points, lows and highs."""

    point: float
    lo: float
    hi: float
    drivers: list[DriverScore] = field(default_factory=list)
    known: int = 0


@dataclass
class Project:
    """A candidate project, scored.

    Attributes
    ----------
    name, source, archetype, note
        Its name, where its drivers came from (the charter's path, or ``"inline"``), its
        archetype and a note.
    impact, feasibility
        The two scores.
    rank
        1 = first; by impact + feasibility points.
    quadrant
        ``"do first"``, ``"big bet"``, ``"quick win"`` or ``"not now"`` (by points, 0.5 as
        the line); ``settled`` says whether both ranges stay on one side of the line.
    """

    name: str
    source: str
    archetype: str | None
    note: str | None
    impact: Score
    feasibility: Score
    rank: int = 0
    quadrant: str = ""
    settled: bool = False

    @property
    def total(self) -> float:
        """Impact + feasibility (points): the ranking key."""
        return self.impact.point + self.feasibility.point


@dataclass
class Portfolio:
    """The ranked projects of a portfolio file."""

    title: str
    path: str
    projects: list[Project]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return asdict(self)


def _range(level: str) -> tuple[float, float, float]:
    lo, hi = LEVEL_RANGE[level]
    return lo, hi, (lo + hi) / 2


def _driver(key: str, level: str | None, given: str | None, note: str) -> DriverScore:
    if level is None:
        return DriverScore(key, None, "unknown", *UNKNOWN, 0.5, "not given: the whole range")
    return DriverScore(key, given, level, *_range(level), note=note)


def _flip(level: str) -> str:
    return {"low": "high", "medium": "medium", "high": "low"}[level]


def _mean(parts: list[DriverScore]) -> Score:
    k = len(parts)
    return Score(point=sum(p.point for p in parts) / k, lo=sum(p.lo for p in parts) / k,
                 hi=sum(p.hi for p in parts) / k, drivers=parts,
                 known=sum(p.given is not None for p in parts))


def _leveled(d: Driver | None) -> tuple[str | None, str]:
    return (d.level, d.note or "") if d is not None else (None, "")


def score_impact(drivers: ImpactDrivers) -> Score:
    """The impact score: the mean of the three impact drivers (unknown: [0, 1])."""
    parts = []
    for key in IMPACT_DRIVERS:
        level, note = _leveled(getattr(drivers, key))
        parts.append(_driver(key, level, level, note))
    return _mean(parts)


def score_feasibility(drivers: FeasibilityDrivers) -> Score:
    """The feasibility score: the mean of the feasibility drivers, harder ones reversed."""
    parts = []
    rows = drivers.labelled_rows
    if rows is None:
        parts.append(_driver("labelled_rows", None, None, ""))
    else:
        level = "high" if rows >= ROWS_HIGH else "medium" if rows >= ROWS_MEDIUM else "low"
        parts.append(_driver("labelled_rows", level, f"{rows:,}",
                             f"≥ {ROWS_HIGH:,} high, ≥ {ROWS_MEDIUM:,} medium, else low"))
    stab, stab_note = _leveled(drivers.data_stability)
    parts.append(_driver("data_stability", stab, stab, stab_note))
    hc = drivers.human_can_do
    parts.append(_driver("human_can_do", _HUMAN[hc] if hc else None, hc,
                         "a person can do the task: yes/partly/no = high/medium/low"))
    for key in ("accuracy_requirement", "cost_of_errors"):
        given, note = _leveled(getattr(drivers, key))
        flipped = _flip(given) if given else None
        parts.append(_driver(key, flipped, given,
                             (note + "; " if note else "") + "reversed: high makes it harder"))
    return _mean(parts)


def score_project(name: str, impact: ImpactDrivers, feasibility: FeasibilityDrivers, *,
                  source: str = "inline", archetype: str | None = None,
                  note: str | None = None) -> Project:
    """Score one project from its drivers (rank and quadrant are set by :func:`rank`).

    Parameters
    ----------
    name
        The project's name.
    impact, feasibility
        Its drivers, typed as the charter's ``planning.impact`` and
        ``planning.feasibility``.
    source, archetype, note
        Carried to the result.

    Returns
    -------
    Project
    """
    return Project(name=name, source=source, archetype=archetype, note=note,
                   impact=score_impact(impact), feasibility=score_feasibility(feasibility))


def _quadrant(p: Project) -> tuple[str, bool]:
    hi_i, hi_f = p.impact.point >= 0.5, p.feasibility.point >= 0.5
    name = {(True, True): "do first", (True, False): "big bet",
            (False, True): "quick win", (False, False): "not now"}[(hi_i, hi_f)]
    settled = all(s.lo >= 0.5 or s.hi <= 0.5 for s in (p.impact, p.feasibility))
    return name, settled


def rank(projects: list[Project]) -> list[Project]:
    """Order by impact + feasibility (points, highest first; ties by name) and set each
    project's rank, quadrant and whether its quadrant is settled by its ranges."""
    out = sorted(projects, key=lambda p: (-round(p.total, 12), p.name))
    for i, p in enumerate(out, 1):
        p.rank = i
        p.quadrant, p.settled = _quadrant(p)
    return out


# -- reading a portfolio file ---------------------------------------------------------------


class _Lines:
    """Where each key of a YAML file is written, for messages."""

    def __init__(self, file: str, lines: Mapping[tuple[Any, ...], int]) -> None:
        self.file, self.lines = file, lines

    def at(self, path: tuple[Any, ...]) -> int | None:
        for k in range(len(path), -1, -1):
            if path[:k] in self.lines:
                return self.lines[path[:k]]
        return None

    def problem(self, path: tuple[Any, ...], message: str, fix: str) -> Problem:
        dotted = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path)
        return Problem(message, file=self.file, line=self.at(path), fix=fix,
                       path=dotted.replace(".[", "[") or None)


def _read_yaml(path: Path, file: str, what: str) -> tuple[Any, _Lines]:
    """Read a YAML file under the charter loader's limits (size, aliases, depth, tags)."""
    try:
        st = path.stat()
    except OSError:
        raise PortfolioError([Problem(f"{what} not found: there is no such file", file=file,
                                      fix="check the path")]) from None
    if not stat.S_ISREG(st.st_mode):
        raise PortfolioError([Problem(f"{what} is not a regular file", file=file,
                                      fix="pass a YAML file")])
    if st.st_size > MAX_BYTES:
        raise PortfolioError([Problem(f"the file is {st.st_size:,} bytes; the limit is 1 MiB",
                                      file=file, fix="a portfolio is a few kilobytes")])
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            text = fh.read(MAX_BYTES + 1).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PortfolioError([Problem(f"cannot read {what}: {exc}", file=file,
                                      fix="pass a readable UTF-8 YAML file")]) from None
    loader = CharterLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise PortfolioError([Problem(f"{what} is empty", file=file,
                                          fix="write `projects:` with a list of projects")])
        lines, _, _ = index_yaml(root)
        data = loader.construct_document(root)
    except YamlLimitError as exc:
        raise PortfolioError([exc.problem(file)]) from None
    except yaml.YAMLError as exc:
        raise PortfolioError([yaml_problem(exc, file)]) from None
    finally:
        loader.dispose()
    return data, _Lines(file, lines)


def _model_problems(exc: ValidationError, where: _Lines, base: tuple[Any, ...],
                    allowed: tuple[str, ...]) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and x.startswith(
            ("function-", "literal["))))
        path = (*base, *loc)
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            if len(loc) == 1:
                out.append(where.problem(path, f"unknown driver `{key}`"
                                         f"{did_you_mean(key, list(allowed))}",
                                         fix=f"the drivers here are {', '.join(allowed)}"))
            else:
                out.append(where.problem(path, f"unknown key `{key}`",
                                         fix="a driver is `high` or `{level: high, note: "
                                             "\"why\"}` (quote notes with commas)"))
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            head, _, fix = msg.partition("\nfix: ")
            out.append(where.problem(path, head, fix=fix or "see docs/planning-portfolio.md"))
    return out


def _validate(model: type[BaseModel], value: Any, where: _Lines, base: tuple[Any, ...],
              allowed: tuple[str, ...], problems: list[Problem]) -> Any:
    if not isinstance(value, dict):
        problems.append(where.problem(base, f"`{base[-1]}` must be a mapping of drivers",
                                      fix=_FIX_DRIVERS))
        return None
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems.extend(_model_problems(exc, where, base, allowed))
        return None


def _from_charter(entry: dict[str, Any], i: int, where: _Lines, folder: Path,
                  problems: list[Problem]) -> Project | None:
    raw = entry["charter"]
    base = ("projects", i, "charter")
    if not isinstance(raw, str) or not raw.strip():
        problems.append(where.problem(base, "`charter` must be a path to a charter file",
                                      fix="write e.g. `charter: ../caravan/mlscope.yaml`"))
        return None
    # A portfolio may name charters inside its project only (its folder, the git work
    # tree, MLSCOPE_ALLOW_DIRS), as a charter may name its data: it is untrusted input.
    try:
        path = project_file(folder, raw, what="charter").resolve()
    except InputError as exc:
        # The key is named by the problem's place; the message keeps what follows it.
        problems.append(where.problem(base, str(exc).split(". Move")[0].removeprefix(
                                          "charter: "),
                                      fix="move the charter into the project, or give the "
                                          "drivers inline"))
        return None
    if not path.is_file():
        problems.append(where.problem(base, f"charter `{raw}` not found ({path})",
                                      fix="the path is relative to the portfolio file; "
                                          "check it, or give the drivers inline"))
        return None
    try:
        data, cw = _read_yaml(path, str(path), "the charter")
    except PortfolioError as exc:
        problems.extend(exc.problems)
        return None
    plan = data.get("planning") if isinstance(data, dict) else None
    if not isinstance(plan, dict) or not (plan.get("impact") or plan.get("feasibility")):
        problems.append(where.problem(base, f"charter `{raw}` has no `planning.impact` or "
                                      "`planning.feasibility` drivers", fix=_FIX_DRIVERS))
        return None
    try:
        spec = PlanningSpec.model_validate(plan)
    except ValidationError as exc:
        problems.extend(_model_problems(exc, cw, ("planning",),
                                        IMPACT_DRIVERS + tuple(FeasibilityDrivers.model_fields)))
        return None
    name = entry.get("name") or data.get("project") or path.parent.name
    return score_project(str(name), spec.impact, spec.feasibility, source=raw,
                         archetype=spec.archetype, note=entry.get("note") or spec.problem)


def _inline(entry: dict[str, Any], i: int, where: _Lines, problems: list[Problem]
            ) -> Project | None:
    base: tuple[Any, ...] = ("projects", i)
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(where.problem(base, "an inline project needs a `name`",
                                      fix="add `name: <short project name>`"))
        return None
    missing = [k for k in ("impact", "feasibility") if not entry.get(k)]
    if missing:
        problems.append(where.problem(base, f"project `{name}` is missing its "
                                      f"{' and '.join(missing)} drivers", fix=_FIX_DRIVERS))
        return None
    imp = _validate(ImpactDrivers, entry["impact"], where, (*base, "impact"), IMPACT_DRIVERS,
                    problems)
    fea = _validate(FeasibilityDrivers, entry["feasibility"], where, (*base, "feasibility"),
                    tuple(FeasibilityDrivers.model_fields), problems)
    arch = entry.get("archetype")
    if arch is not None:
        try:
            arch = PlanningSpec.model_validate({"archetype": arch}).archetype
        except ValidationError as exc:
            problems.extend(_model_problems(exc, where, base, ()))
            return None
    if imp is None or fea is None:
        return None
    return score_project(name.strip(), imp, fea, archetype=arch, note=entry.get("note"))


def load_portfolio(path: str | Path) -> Portfolio:
    """Read, check, score and rank a portfolio file.

    Parameters
    ----------
    path
        The portfolio YAML. Charter paths in it are relative to its folder.

    Returns
    -------
    Portfolio

    Raises
    ------
    PortfolioError
        Every problem found, each with the file, line and fix (an ``InputError``: exit 2).
    """
    p = Path(path).expanduser()
    file = str(path)
    data, where = _read_yaml(p, file, "the portfolio")
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise PortfolioError([where.problem((), "the top level must be a mapping with "
                                            "`projects:`", fix="write `projects:` and a list")])
    for key in data:
        if key not in ("title", "projects"):
            problems.append(where.problem((key,), f"unknown key `{key}`"
                                          f"{did_you_mean(str(key), ['title', 'projects'])}",
                                          fix="the keys are `title` and `projects`"))
    entries = data.get("projects")
    if not isinstance(entries, list) or not entries:
        problems.append(where.problem(("projects",), "`projects` must be a list of projects",
                                      fix="list each project as `- charter: PATH` or "
                                          "`- name: ...` with `impact:` and `feasibility:`"))
        raise PortfolioError(problems)
    if len(entries) > _MAX_PROJECTS:
        raise PortfolioError([where.problem(("projects",), f"{len(entries)} projects; the "
                                            f"limit is {_MAX_PROJECTS}",
                                            fix="split the portfolio")])
    projects: list[Project] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(where.problem(("projects", i), "a project is a mapping",
                                          fix="write `- charter: PATH` or `- name: ...`"))
            continue
        bad = [k for k in entry if k not in _ENTRY_KEYS]
        for k in bad:
            problems.append(where.problem(("projects", i, k), f"unknown key `{k}`"
                                          f"{did_you_mean(str(k), list(_ENTRY_KEYS))}",
                                          fix=f"a project's keys are {', '.join(_ENTRY_KEYS)}"))
        if bad:
            continue
        got = (_from_charter(entry, i, where, p.resolve().parent, problems)
               if "charter" in entry else _inline(entry, i, where, problems))
        if got is not None:
            projects.append(got)
    names = [pr.name for pr in projects]
    for n in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem(f"two projects are named `{n}`", file=file,
                                fix="give each project its own `name:`"))
    if problems:
        raise PortfolioError(problems)
    title = data.get("title")
    return Portfolio(title=str(title) if title else p.stem, path=file,
                     projects=rank(projects))
