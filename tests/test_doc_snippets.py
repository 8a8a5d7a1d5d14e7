"""Every snippet in the docs runs: YAML charters validate, Python compiles, and every
``mlscope`` command line names a subcommand and options that exist.

Which Markdown files: ``README.md``, ``docs/*.md`` and ``examples/**/README.md``.

How a ```yaml block is checked depends on an HTML comment on the line just before it:

- none: a **full charter**, validated as ``mlscope validate`` would (data-free: no table is
  read), with no problems and no warnings;
- ``<!-- charter fragment -->``: a **fragment**, some top-level keys of a charter. It is
  validated inside a base charter, its keys replacing the base's: the first full charter
  of the same file; when the file has none, a minimal one (project, task ``binary``, the
  Caravan example's ``data:``, ROC AUC, a satisficing rule); with ``in PATH`` (``<!--
  charter fragment: in examples/caravan/mlscope.yaml -->``), the charter file at PATH from
  the repository root. Keys replace the base's, except ``metrics:``, whose entries are
  added to the base's (an entry with the same id replaces it): a fragment shows metric
  entries, not a whole list. So that a fragment need not repeat a ``metrics:`` list, the
  base also computes every registry metric the fragment names; an id that is neither a
  registry metric nor in the base (``fn_rate``) is still an error;
- ``<!-- charter fragment: under data -->``: the same, the fragment's keys going under the
  base's ``data:`` (any dotted path; ``under`` and ``in`` combine, in that order);
- ``<!-- not a charter: ... -->``: YAML that is no charter (a CI workflow): it must parse,
  and the ``mlscope`` commands in it are checked like a ```bash block's.
"""

from __future__ import annotations

import ast
import copy
import importlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from mlscope.charter import validate_charter
from mlscope.cli import main as cli
from mlscope.metrics import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
MARKER = re.compile(r"<!--\s*(charter fragment(?::(?:\s*under\s+(?P<under>[\w.]+))?"
                    r"(?:\s*in\s+(?P<base>\S+))?)?|not a charter\b[^>]*)\s*-->\s*$")


@dataclass(frozen=True)
class Snippet:
    path: Path
    line: int
    lang: str
    text: str
    marker: str  # "", "fragment" or "other"
    under: str  # the dotted key a fragment goes under ("" for the top level)
    base: str = ""  # the charter file a fragment goes in ("": see _base)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
            *sorted((ROOT / "examples").glob("**/README.md"))]


def snippets(path: Path) -> list[Snippet]:
    text = path.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = MARKER.search(before)
        kind = "" if mark is None else ("other" if "not a charter" in mark.group(1)
                                        else "fragment")
        out.append(Snippet(path, text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2),
                           kind, (mark.group("under") or "") if mark else "",
                           (mark.group("base") or "") if mark else ""))
    return out


ALL = [s for f in doc_files() for s in snippets(f)]


def _ids(lang: str) -> list[Any]:
    return [pytest.param(s, id=s.where) for s in ALL if s.lang == lang]


EXAMPLE = ROOT / "examples" / "caravan" / "mlscope.yaml"


def _base(snippet: Snippet) -> dict[str, Any]:
    """The charter a fragment goes in: see the module docstring."""
    if snippet.base:
        base = yaml.safe_load((ROOT / snippet.base).read_text(encoding="utf-8"))
    else:
        full = [s.text for s in snippets(snippet.path) if s.lang == "yaml" and not s.marker]
        example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
        base = yaml.safe_load(full[0]) if full else {
            "project": "doc-snippet", "task": "binary", "data": example["data"],
            "metrics": ["roc_auc"], "selection": {"rule": "satisficing", "optimize": "roc_auc"}}
    assert isinstance(base, dict)
    return base


def _metric_id(entry: Any) -> str:
    if isinstance(entry, dict):
        return str(entry.get("id") or entry.get("metric") or entry.get("custom"))
    return str(entry)


def embed(snippet: Snippet) -> dict[str, Any]:
    """The charter a fragment is validated in (see the module docstring)."""
    fragment = yaml.safe_load(snippet.text)
    assert isinstance(fragment, dict), f"{snippet.where}: a fragment must be a mapping"
    charter = copy.deepcopy(_base(snippet))
    target = charter
    for key in filter(None, snippet.under.split(".")):
        target = target.setdefault(key, {})
    metrics = {_metric_id(m): m for m in charter["metrics"]}
    if not snippet.under and isinstance(fragment.get("metrics"), list):
        metrics |= {_metric_id(m): m for m in fragment["metrics"]}
    target.update({k: v for k, v in fragment.items() if k != "metrics" or snippet.under})
    task = charter["task"]
    named = set(re.findall(r"[A-Za-z_]\w*", snippet.text))
    metrics |= {n: n for n in sorted(named - set(metrics))
                if n in REGISTRY and task in REGISTRY[n].tasks}
    charter["metrics"] = list(metrics.values())
    return charter


def _validate(tmp_path: Path, charter: dict[str, Any] | str, where: str) -> None:
    path = tmp_path / "mlscope.yaml"
    path.write_text(charter if isinstance(charter, str) else
                    yaml.safe_dump(charter, sort_keys=False), encoding="utf-8")
    report = validate_charter(path)
    assert report.problems == [], (where, [str(p) for p in report.problems])
    assert report.warnings == [], (where, [str(w) for w in report.warnings])


@pytest.mark.parametrize("snippet", _ids("yaml"))
def test_yaml_snippet_is_a_valid_charter(snippet: Snippet, tmp_path: Path) -> None:
    if snippet.marker == "other":
        yaml.safe_load(snippet.text)
        for command in mlscope_commands(snippet.text):
            check_command(command, snippet.where)
    elif snippet.marker == "fragment":
        _validate(tmp_path, embed(snippet), snippet.where)
    else:
        assert snippet.text.startswith("project:"), (
            f"{snippet.where}: a charter starts with `project:`; mark a fragment with "
            "`<!-- charter fragment -->` on the line before the fence")
        _validate(tmp_path, snippet.text, snippet.where)


@pytest.mark.parametrize("snippet", _ids("python"))
def test_python_snippet_compiles(snippet: Snippet) -> None:
    """It compiles, and every mlscope name it imports or reads (``mlscope.evaluate``,
    ``from mlscope.store import Store``) exists: a renamed function fails here."""
    tree = compile(snippet.text, snippet.where, "exec", ast.PyCF_ONLY_AST)
    for name in mlscope_names(tree):
        assert resolves(name), f"{snippet.where}: `{name}` does not exist"


def resolves(name: str) -> bool:
    """Whether the dotted ``name`` is an attribute chain or a submodule of mlscope."""
    parts = name.split(".")
    obj: Any = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], 2):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        try:  # a submodule not imported by its package
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            return False
    return True


def mlscope_names(tree: ast.AST) -> list[str]:
    """The dotted mlscope names a snippet uses: its imports, and ``mlscope.a.b`` chains."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "mlscope":
            names += [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names if a.name.split(".")[0] == "mlscope"]
        elif isinstance(node, ast.Attribute):
            chain = []
            inner: ast.AST = node
            while isinstance(inner, ast.Attribute):
                chain.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id == "mlscope":
                # The longest chain is checked; attributes of a result are not names.
                names.append(".".join(["mlscope", *reversed(chain)]))
    return names


# -- command lines ---------------------------------------------------------------------------


def mlscope_commands(text: str) -> list[list[str]]:
    """Each ``mlscope ...`` command in a shell snippet, as words (comments, continuation
    lines and what follows a pipe or ``&&`` handled)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line)
        for part in re.split(r"\|\||&&|[|;]", line):
            try:
                words = shlex.split(part)
            except ValueError:
                words = part.split()
            while words and (words[0] in ("-", "run:", "$") or "=" in words[0]):
                words = words[1:]  # `- run: mlscope ...` (YAML), `$ `, `ENV=1 mlscope`
            if words and Path(words[0]).name == "mlscope":
                out.append(words[1:])
    return out


def check_command(words: list[str], where: str) -> None:
    """The subcommand exists and so does every option given to it."""
    group: click.Command = cli
    ctx = click.Context(cli)
    path = ["mlscope"]
    while isinstance(group, click.Group) and words and not words[0].startswith("-"):
        sub = group.get_command(ctx, words[0])
        assert sub is not None, f"{where}: `{' '.join(path)}` has no command `{words[0]}`"
        path.append(words[0])
        group, words = sub, words[1:]
    known = {opt for p in group.params for opt in (*p.opts, *p.secondary_opts)}
    known |= {"--help", "-h"}
    for word in words:
        if word.startswith("-") and word != "-" and not re.fullmatch(r"-\d.*", word):
            option = word.split("=", 1)[0]
            assert option in known, (
                f"{where}: `{' '.join(path)}` has no option `{option}` "
                f"(options: {', '.join(sorted(known))})")


@pytest.mark.parametrize("snippet", _ids("bash"))
def test_bash_snippet_commands_exist(snippet: Snippet) -> None:
    for command in mlscope_commands(snippet.text):
        check_command(command, snippet.where)


@pytest.mark.parametrize("snippet", [pytest.param(s, id=s.where) for s in ALL
                                     if s.lang in ("", "text") and "\nmlscope " in f"\n{s.text}"])
def test_command_listings_name_real_commands(snippet: Snippet) -> None:
    """A listing such as docs/cli.md's (``mlscope serve [DIR]  ... (--host, --port)``):
    each line's subcommand exists, and so does every ``--option`` the line names."""
    for line in snippet.text.splitlines():
        if not line.startswith("mlscope "):
            continue
        words = line.split()[1:]
        path = []
        for word in words:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            path.append(word)
        options = re.findall(r"(?<![\w-])--[a-z][\w-]*", line)
        check_command(path + options, f"{snippet.where}: {line.split('  ')[0]}")


def test_every_doc_snippet_is_checked() -> None:
    """A fence this file does not know would go unchecked: say what it is instead."""
    langs = {s.lang for s in ALL}
    # "" and text: output, formulas and diagrams (command listings are checked above).
    assert langs <= {"yaml", "python", "bash", "text", ""}, langs
    assert len([s for s in ALL if s.lang == "yaml"]) >= 15


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    """The broken formula once in docs/charter.md, an unknown option and a full charter
    missing its marker all fail."""
    readme = ROOT / "README.md"
    bad = Snippet(readme, 1, "yaml", 'selection:\n  rule: formula\n  expression: '
                  '"5 * fn_rate + fp_rate"\n  direction: lower\n', "fragment", "")
    with pytest.raises(AssertionError, match="fn_rate"):
        _validate(tmp_path, embed(bad), bad.where)
    with pytest.raises(AssertionError, match="no option `--no-such`"):
        check_command(["run", "mlscope.yaml", "--no-such"], "x")
    with pytest.raises(AssertionError, match="no command `lint`"):
        check_command(["lint"], "x")
    assert resolves("mlscope.store.Store")
    assert resolves("mlscope.integrations.mlflow")
    assert not resolves("mlscope.evaluate_charter")
    assert not resolves("mlscope.store.Shop")
    with pytest.raises(AssertionError, match="starts with `project:`"):
        test_yaml_snippet_is_a_valid_charter(
            Snippet(readme, 1, "yaml", "metrics: [roc_auc]\n", "", ""), tmp_path)
