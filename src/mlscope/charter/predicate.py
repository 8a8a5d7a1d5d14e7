"""Check a slice predicate (``slices.where``) and rewrite it as SQL that mlscope controls.

A charter comes from a pull request, so its predicates are untrusted text. Splicing that
text into SQL would let a charter read files (``read_text('/proc/self/environ')``), write
them (``COPY … TO``), attach databases or install extensions. Instead each predicate is

1. scanned: comments, ``;``, and strings other than plain ``'…'`` are refused;
2. parsed by DuckDB's own parser (``json_serialize_sql``, which parses and never runs) as
   the single expression of ``SELECT <predicate>``, on a connection with nothing attached
   and no file access;
3. walked against an allow-list of parse-tree nodes (:data:`ALLOWED_FUNCTIONS` and the
   node kinds documented under ``slices.where`` in ``docs/charter.md``); anything else is
   refused, naming the offending part;
4. rendered back to SQL from the checked tree, for DuckDB and for Spark SQL: identifiers
   and string literals are quoted by mlscope, so what runs is exactly what was checked,
   whatever the two dialects' lexers disagree on (Spark reads backslash escapes in
   strings, DuckDB does not).

The allowed functions are the subset that DuckDB and Spark SQL both have with the same
meaning (``log`` is not in it: base 10 in DuckDB, natural in Spark; use ``ln`` or
``log10``).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlscope.errors import InputError

if TYPE_CHECKING:
    # DuckDB is imported when a predicate is first parsed (`_parser_connection`), not here:
    # loading a charter without `where:` slices should not pay its ~0.05 s import.
    import duckdb

__all__ = [
    "ALLOWED_FUNCTIONS", "Predicate", "PredicateError", "check_where", "parse_predicate", "shown",
]

Dialect = Literal["duckdb", "spark"]

_MAX_LEN = 2000  # a predicate is one condition; a longer text is not a mistake to parse
_WRAP = "SELECT "  # the predicate is parsed as the one expression of this statement


@dataclass(frozen=True)
class _Fn:
    """An allowed scalar function: its arity and its name in Spark SQL."""

    min_args: int
    max_args: int | None
    spark: str | None = None  # Spark's name when it differs
    boolean: bool = False  # returns a boolean (so it can be a whole predicate)


#: Scalar functions a predicate may call (lower-case name -> arity, Spark name).
ALLOWED_FUNCTIONS: Mapping[str, _Fn] = {
    # numbers
    "abs": _Fn(1, 1), "sign": _Fn(1, 1), "round": _Fn(1, 2), "floor": _Fn(1, 1),
    "ceil": _Fn(1, 1), "ceiling": _Fn(1, 1), "sqrt": _Fn(1, 1), "exp": _Fn(1, 1),
    "ln": _Fn(1, 1), "log10": _Fn(1, 1), "log2": _Fn(1, 1), "power": _Fn(2, 2),
    "pow": _Fn(2, 2), "least": _Fn(2, None), "greatest": _Fn(2, None),
    "nullif": _Fn(2, 2), "isnan": _Fn(1, 1, boolean=True),
    # text
    "lower": _Fn(1, 1), "upper": _Fn(1, 1), "length": _Fn(1, 1), "trim": _Fn(1, 1),
    "ltrim": _Fn(1, 1), "rtrim": _Fn(1, 1), "substr": _Fn(2, 3), "substring": _Fn(2, 3),
    "replace": _Fn(3, 3), "left": _Fn(2, 2), "right": _Fn(2, 2),
    "starts_with": _Fn(2, 2, spark="startswith", boolean=True),
    "ends_with": _Fn(2, 2, spark="endswith", boolean=True),
    "contains": _Fn(2, 2, boolean=True),
    # dates
    "year": _Fn(1, 1), "quarter": _Fn(1, 1), "month": _Fn(1, 1),
    "day": _Fn(1, 1, spark="dayofmonth"), "hour": _Fn(1, 1), "minute": _Fn(1, 1),
    "second": _Fn(1, 1), "date_part": _Fn(2, 2),
}

# Types a CAST may name (DuckDB's spelling, upper-case) -> (DuckDB, Spark) spelling.
_TYPES: Mapping[str, tuple[str, str]] = {
    "BOOLEAN": ("BOOLEAN", "BOOLEAN"), "BOOL": ("BOOLEAN", "BOOLEAN"),
    "TINYINT": ("TINYINT", "TINYINT"), "SMALLINT": ("SMALLINT", "SMALLINT"),
    "INTEGER": ("INTEGER", "INT"), "INT": ("INTEGER", "INT"),
    "BIGINT": ("BIGINT", "BIGINT"), "FLOAT": ("FLOAT", "FLOAT"),
    "REAL": ("FLOAT", "FLOAT"), "DOUBLE": ("DOUBLE", "DOUBLE"),
    "DECIMAL": ("DECIMAL", "DECIMAL"), "NUMERIC": ("DECIMAL", "DECIMAL"),
    "VARCHAR": ("VARCHAR", "STRING"), "TEXT": ("VARCHAR", "STRING"),
    "STRING": ("VARCHAR", "STRING"), "DATE": ("DATE", "DATE"),
    "TIMESTAMP": ("TIMESTAMP", "TIMESTAMP"),
}

_COMPARE = {
    "COMPARE_EQUAL": "=", "COMPARE_NOTEQUAL": "<>", "COMPARE_LESSTHAN": "<",
    "COMPARE_GREATERTHAN": ">", "COMPARE_LESSTHANOREQUALTO": "<=",
    "COMPARE_GREATERTHANOREQUALTO": ">=", "COMPARE_DISTINCT_FROM": "IS DISTINCT FROM",
    "COMPARE_NOT_DISTINCT_FROM": "IS NOT DISTINCT FROM",
}
# DuckDB's internal names of the operators a predicate may use -> the SQL written.
_BINARY = {"+": "+", "-": "-", "*": "*", "/": "/", "%": "%", "||": "||",
           "~~": "LIKE", "!~~": "NOT LIKE", "~~*": "ILIKE", "!~~*": "NOT ILIKE"}
_UNARY = {"+", "-"}
_LIKE = {"LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"}
_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
             "UINTEGER", "UBIGINT", "UHUGEINT"}
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_ALLOWED_NOTE = (
    "allowed: columns, constants, comparisons, AND/OR/NOT, IN (…), BETWEEN, LIKE/ILIKE, "
    "IS [NOT] NULL, arithmetic, CASE, CAST and a list of functions (docs/charter.md, "
    "`slices.where`)"
)


class PredicateError(InputError):
    """A slice predicate that is not one allowed condition; the message names the part."""


@dataclass(frozen=True)
class Predicate:
    """A checked slice predicate.

    Attributes
    ----------
    text
        The predicate as written in the charter (for reports).
    duckdb
        The same condition rendered by mlscope for DuckDB: every identifier and string
        quoted, every operation parenthesised.
    spark
        The same condition rendered for Spark SQL.
    columns
        The column names it reads, in order of first use.
    """

    text: str
    duckdb: str
    spark: str
    columns: tuple[str, ...]


def parse_predicate(text: str) -> Predicate:
    """Check a slice predicate against the allow-list and render it for DuckDB and Spark.

    Parameters
    ----------
    text
        One SQL condition over the data's columns, e.g. ``"balance > 1500"``.

    Returns
    -------
    Predicate
        The checked predicate and its SQL, built from the parse tree (never the raw text).

    Raises
    ------
    PredicateError
        When ``text`` is not exactly one expression made of allowed parts; the message
        names the first offending part (a function, a subquery, a statement, a comment).
    """
    if not text.strip():
        raise PredicateError("the predicate is empty")
    if len(text) > _MAX_LEN:
        raise PredicateError(f"the predicate is {len(text)} characters long (at most {_MAX_LEN})")
    _check_tokens(text)
    expr = _parse(text)
    columns: list[str] = []
    duck = _Render(text, "duckdb", columns).top(expr)
    spark = _Render(text, "spark", []).top(expr)
    return Predicate(text=text, duckdb=duck, spark=spark, columns=tuple(dict.fromkeys(columns)))


def check_where(where: Mapping[str, str]) -> dict[str, Predicate]:
    """Check every ``slices.where`` predicate; what the engines run before any SQL.

    Parameters
    ----------
    where
        The charter's ``slices.where``: slice name -> predicate text.

    Returns
    -------
    dict
        Slice name -> :class:`Predicate`, in the charter's order.

    Raises
    ------
    InputError
        Naming the slice and the offending part of its predicate.
    """
    out: dict[str, Predicate] = {}
    for name, text in where.items():
        try:
            out[name] = parse_predicate(text)
        except PredicateError as exc:
            raise InputError(f"slice `{name}`: {exc}") from None
    return out


def shown(text: str) -> str:
    """A predicate for a message: one line, at most 80 characters, quoted."""
    return repr(_excerpt(text, 80))


def _excerpt(s: str, limit: int = 60) -> str:
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _check_tokens(text: str) -> None:
    """Refuse what the parse tree would no longer show: comments, ``;``, escaped strings.

    A small scan of its own rather than ``duckdb.tokenize``, whose report of comments
    differs between DuckDB versions. It skips ``'…'`` strings and ``"…"`` names (with
    their doubled quotes) and looks at everything else. A disagreement with DuckDB's
    lexer can only refuse too much: what runs is rendered from the parse tree anyway.
    """
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            if c == "'":
                prefix = re.search(r"(?:[A-Za-z_0-9]+|U&)$", text[:i])
                if prefix and prefix.group(0).upper() in _STRING_PREFIXES:
                    raise _escaped_string(text[prefix.start():i + 1])
            j = i + 1
            while j < n and not (text[j] == c and not text.startswith(c * 2, j)):
                j += 2 if text.startswith(c * 2, j) else 1
            i = j + 1
            continue
        if text.startswith(("--", "/*"), i):
            raise PredicateError(
                f"a comment (`{_excerpt(text[i:], 30)}`) is not allowed in a slice "
                "predicate; write only the condition (a YAML comment goes after `#`, outside "
                "the quotes)")
        if c == ";":
            raise PredicateError("`;` is not allowed in a slice predicate: it is one "
                                 "condition, not statements")
        dollar = re.match(r"\$[A-Za-z_]*\$", text[i:])
        if dollar:
            raise _escaped_string(dollar.group(0))
        i += 1


_STRING_PREFIXES = {"E", "X", "B", "N", "U&"}


def _escaped_string(start: str) -> PredicateError:
    return PredicateError(
        f"the string starting `{_excerpt(start, 20)}` is not allowed in a slice predicate: "
        "write text in plain single quotes, e.g. 'north' (no E'…', $$…$$ or other escapes)")


def _parse(text: str) -> dict[str, Any]:
    """The parse tree of ``SELECT <text>``'s one expression, by DuckDB's parser."""
    with _PARSER_LOCK:  # one connection is not safe to share between threads
        global _PARSER
        if _PARSER is None:
            _PARSER = _parser_connection()
        _refuse_statement(_PARSER, text)
        row = _PARSER.execute("SELECT json_serialize_sql(?::VARCHAR)",
                              [_WRAP + text]).fetchone()
    assert row is not None
    tree = json.loads(row[0])
    if tree.get("error"):
        msg = str(tree.get("error_message", "")).splitlines()
        raise PredicateError("the predicate is not one SQL condition: "
                             + _excerpt(msg[0] if msg else "syntax error", 120))
    stmts = tree.get("statements") or []
    if len(stmts) != 1:
        raise PredicateError("a slice predicate is one condition, not several statements")
    node = stmts[0].get("node") or {}
    # `SELECT x FROM t`, `… WHERE`, `… UNION SELECT`, `… ORDER BY`, a CTE: all refused.
    if stmts[0].get("named_param_map"):
        raise PredicateError("a parameter (`?`, `$1`, `$name`) is not allowed in a slice "
                             "predicate; write the value itself")
    extra = [k for k in ("from_table", "where_clause", "having", "qualify", "sample")
             if node.get(k) is not None and not (k == "from_table"
                                                  and node[k].get("type") == "EMPTY")]
    if (node.get("type") != "SELECT_NODE" or extra or node.get("modifiers")
            or node.get("group_expressions") or node.get("group_sets")
            or (node.get("cte_map") or {}).get("map")
            or node.get("aggregate_handling") != "STANDARD_HANDLING"
            or len(node.get("select_list") or []) != 1):
        what = ", ".join(_CLAUSES[k] for k in extra) or "a query"
        raise PredicateError(
            f"the predicate is not one condition: it reads as {what} (only an expression "
            "over the table's columns is allowed, e.g. \"balance > 1500\")")
    expr: dict[str, Any] = node["select_list"][0]
    return expr


_CLAUSES = {"from_table": "a FROM clause", "where_clause": "a WHERE clause",
            "having": "a HAVING clause", "qualify": "a QUALIFY clause", "sample": "a SAMPLE"}
_PARSER: duckdb.DuckDBPyConnection | None = None
_PARSER_LOCK = threading.Lock()


def _parser_connection() -> duckdb.DuckDBPyConnection:
    """An empty connection that can only parse: no files, no extensions, settings locked."""
    from mlscope.sql import connect, seal

    con = connect()
    seal(con, [])
    return con


def _refuse_statement(con: duckdb.DuckDBPyConnection, text: str) -> None:
    """Name the statement when the text is one (``COPY …``, ``ATTACH …``, ``SELECT …``).

    Only for the message: without this, ``ATTACH 'x' AS y`` would be refused for its
    ``AS y`` and ``COPY … TO`` for a syntax error near ``TO``.
    """
    try:
        kinds = [s.type.name for s in con.extract_statements(text)]
    except Exception:  # not a statement (the usual case): the expression parse decides
        return
    if kinds:
        word = text.split(None, 1)[0].upper() if text.split() else kinds[0]
        raise PredicateError(
            f"a statement (`{_excerpt(word, 20)} …`) is not allowed in a slice predicate; "
            "write one condition over the table's columns, e.g. \"balance > 1500\"")


class _Render:
    """Walk a checked tree and write it in one dialect; raise on any node not allowed."""

    def __init__(self, text: str, dialect: Dialect, columns: list[str]) -> None:
        self.raw = text.encode()
        self.dialect = dialect
        self.columns = columns
        self.handlers: dict[str, Callable[[dict[str, Any]], str]] = {
            "CONSTANT": self.constant, "COLUMN_REF": self.column, "COMPARISON": self.compare,
            "CONJUNCTION": self.conjunction, "OPERATOR": self.operator,
            "BETWEEN": self.between, "CASE": self.case, "CAST": self.cast,
            "FUNCTION": self.function,
        }

    # --- helpers ---------------------------------------------------------------------

    def part(self, node: dict[str, Any]) -> str:
        """The text of ``node`` in the predicate, for messages (bounded)."""
        loc, n = node.get("query_location"), node.get("query_location_length")
        if not isinstance(loc, int) or not isinstance(n, int) or loc < len(_WRAP):
            return ""
        start = loc - len(_WRAP)
        return _excerpt(self.raw[start:start + max(n, 1)].decode(errors="replace"))

    def refuse(self, node: dict[str, Any], what: str) -> PredicateError:
        shown = self.part(node)
        at = f" (`{shown}`)" if shown and shown not in what else ""
        return PredicateError(f"{what}{at} is not allowed in a slice predicate; {_ALLOWED_NOTE}")

    def ident(self, name: str) -> str:
        if self.dialect == "spark":
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def string(self, value: str) -> str:
        if self.dialect == "spark":  # Spark reads backslash escapes inside '…'
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + value.replace("'", "''") + "'"

    # --- the walk --------------------------------------------------------------------

    def top(self, node: dict[str, Any]) -> str:
        lit = (node.get("literal") or {}).get("kind") if node.get("class") == "CONSTANT" else None
        fn = str(node.get("function_name", "")).lower()
        if (lit not in (None, "BOOLEAN", "NULL_LITERAL")
                or (node.get("class") == "FUNCTION" and fn in _BINARY
                    and _BINARY[fn] not in _LIKE)
                or (node.get("class") == "FUNCTION" and fn in ALLOWED_FUNCTIONS
                    and not ALLOWED_FUNCTIONS[fn].boolean)):
            shown = self.part(node)
            raise PredicateError(
                f"the predicate{f' `{shown}`' if shown else ''} is a value, not a condition; "
                "write a comparison that is true or false for each row, e.g. "
                "\"balance > 1500\"")
        return self.expr(node)

    def expr(self, node: Any) -> str:
        if not isinstance(node, dict):
            raise PredicateError("the predicate has a part mlscope cannot read")
        if node.get("alias"):
            raise self.refuse(node, f"a name (`AS {_excerpt(str(node['alias']), 30)}`)")
        handler = self.handlers.get(str(node.get("class")))
        if handler is None:
            raise self.refuse(node, _describe(node))
        return handler(node)

    def constant(self, node: dict[str, Any]) -> str:
        lit = node.get("literal")
        if isinstance(lit, dict):  # DuckDB >= 1.5: the literal's kind and source text
            kind, text = lit.get("kind"), str(lit.get("text", ""))
            if kind == "NULL_LITERAL":
                return "NULL"
            if kind == "BOOLEAN" and text.lower() in ("true", "false"):
                return text.upper()
            if kind == "STRING":
                return self.string(text)
            if kind in ("INTEGER", "NUMERIC") and _NUMBER.match(text.replace("_", "")):
                return text.replace("_", "")
            raise self.refuse(node, f"the constant `{_excerpt(text, 30)}`")
        return self.typed_value(node)

    def typed_value(self, node: dict[str, Any]) -> str:
        """A constant as DuckDB < 1.5 serializes it: a typed value."""
        val = node.get("value")
        if not isinstance(val, dict):
            raise self.refuse(node, "this constant")
        ty = val.get("type") or {}
        tid, v = str(ty.get("id")), val.get("value")
        if val.get("is_null"):
            return "NULL"
        if tid == "BOOLEAN" and isinstance(v, bool):
            return "TRUE" if v else "FALSE"
        if tid == "VARCHAR" and isinstance(v, str):
            return self.string(v)
        if tid in _INTEGERS and isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        if tid in _INTEGERS and isinstance(v, dict) and isinstance(v.get("upper"), int) \
                and isinstance(v.get("lower"), int):  # a 128-bit integer, in two halves
            return str((v["upper"] << 64) + v["lower"])
        if tid in ("DOUBLE", "FLOAT") and isinstance(v, float) and math.isfinite(v):
            return repr(v)
        scale = (ty.get("type_info") or {}).get("scale")
        if tid == "DECIMAL" and isinstance(v, int) and isinstance(scale, int) and scale >= 0:
            digits = str(abs(v)).rjust(scale + 1, "0")
            whole, frac = digits[: len(digits) - scale], digits[len(digits) - scale:]
            return ("-" if v < 0 else "") + whole + (f".{frac}" if scale else "")
        raise self.refuse(node, f"a constant of type {_excerpt(tid, 20)}")

    def column(self, node: dict[str, Any]) -> str:
        names = node.get("column_names") or []
        if len(names) != 1:
            raise self.refuse(node, f"the qualified name `{'.'.join(map(str, names))}` "
                              "(write the column name alone)")
        self.columns.append(str(names[0]))
        return self.ident(str(names[0]))

    def compare(self, node: dict[str, Any]) -> str:
        op = _COMPARE.get(str(node.get("type")))
        if op is None:
            raise self.refuse(node, "this comparison")
        return f"({self.expr(node.get('left'))} {op} {self.expr(node.get('right'))})"

    def conjunction(self, node: dict[str, Any]) -> str:
        op = {"CONJUNCTION_AND": " AND ", "CONJUNCTION_OR": " OR "}.get(str(node.get("type")))
        kids = node.get("children") or []
        if op is None or len(kids) < 2:
            raise self.refuse(node, "this operator")
        return "(" + op.join(self.expr(k) for k in kids) + ")"

    def operator(self, node: dict[str, Any]) -> str:
        t, kids = str(node.get("type")), node.get("children") or []
        if t == "OPERATOR_NOT" and len(kids) == 1:
            return f"(NOT {self.expr(kids[0])})"
        if t in ("OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL") and len(kids) == 1:
            return f"({self.expr(kids[0])} IS {'NOT ' if 'NOT' in t else ''}NULL)"
        if t in ("COMPARE_IN", "COMPARE_NOT_IN") and len(kids) >= 2:
            items = ", ".join(self.expr(k) for k in kids[1:])
            neg = "NOT " if t == "COMPARE_NOT_IN" else ""
            return f"({self.expr(kids[0])} {neg}IN ({items}))"
        if t == "OPERATOR_COALESCE" and kids:
            return "coalesce(" + ", ".join(self.expr(k) for k in kids) + ")"
        raise self.refuse(node, _describe(node))

    def between(self, node: dict[str, Any]) -> str:
        return (f"({self.expr(node.get('input'))} BETWEEN {self.expr(node.get('lower'))} "
                f"AND {self.expr(node.get('upper'))})")

    def case(self, node: dict[str, Any]) -> str:
        checks = node.get("case_checks") or []
        if not checks:
            raise self.refuse(node, "this CASE")
        parts = [f"WHEN {self.expr(c.get('when_expr'))} THEN {self.expr(c.get('then_expr'))}"
                 for c in checks]
        alt = node.get("else_expr")
        tail = f" ELSE {self.expr(alt)}" if alt is not None else ""
        return f"(CASE {' '.join(parts)}{tail} END)"

    def cast(self, node: dict[str, Any]) -> str:
        name, params = self.cast_type(node)
        duck, spark = _TYPES[name]
        out = duck if self.dialect == "duckdb" else spark
        if params is not None:
            out += f"({params[0]}, {params[1]})"
        kw = "TRY_CAST" if node.get("try_cast") else "CAST"
        return f"{kw}({self.expr(node.get('child'))} AS {out})"

    def cast_type(self, node: dict[str, Any]) -> tuple[str, tuple[int, int] | None]:
        """The allowed type a cast names, and DECIMAL's (width, scale) when given."""
        shown = ", ".join(sorted(set(_TYPES)))
        ty = node.get("type_expr")
        if ty is None and isinstance(node.get("cast_type"), dict):  # DuckDB < 1.5
            ct = node["cast_type"]
            name, info = str(ct.get("id", "")).upper(), ct.get("type_info") or {}
            if name not in _TYPES:
                raise self.refuse(node, f"a cast to `{_excerpt(name, 30)}` (types: {shown})")
            if name == "DECIMAL" and isinstance(info.get("width"), int):
                return name, (int(info["width"]), int(info.get("scale") or 0))
            return name, None
        ty = ty if isinstance(ty, dict) else {}
        name = str(ty.get("type_name", "")).upper()
        if (ty.get("class") != "TYPE" or ty.get("catalog") or ty.get("schema")
                or name not in _TYPES):
            raise self.refuse(node, f"a cast to `{_excerpt(str(ty.get('type_name', '?')), 30)}`"
                              f" (types: {shown})")
        args = ty.get("children") or []
        if not args:
            return name, None
        if _TYPES[name][0] != "DECIMAL" or len(args) != 2 or any(
                (a.get("literal") or {}).get("kind") != "INTEGER" for a in args):
            raise self.refuse(node, f"the type `{name}` with parameters")
        return name, (int(args[0]["literal"]["text"]), int(args[1]["literal"]["text"]))

    def function(self, node: dict[str, Any]) -> str:
        name = str(node.get("function_name", ""))
        # DuckDB >= 1.5 lists {name, expression} arguments; before, bare children (a named
        # argument then shows as an alias, refused in `expr`).
        args = node.get("arguments") if "arguments" in node else [
            {"name": "", "expression": c} for c in node.get("children") or []]
        if (node.get("schema") or node.get("catalog") or node.get("filter") is not None
                or (node.get("order_bys") or {}).get("orders") or node.get("distinct")
                or node.get("export_state") or not isinstance(args, list)
                or any(not isinstance(a, dict) or a.get("name") for a in args)):
            raise self.refuse(node, f"this call of `{_excerpt(name, 30)}` (qualified, "
                              "with FILTER, ORDER BY, DISTINCT or named arguments)")
        exprs = [a.get("expression") for a in args]
        if node.get("is_operator"):
            op = _BINARY.get(name)
            if op is not None and len(exprs) == 2:
                return f"({self.expr(exprs[0])} {op} {self.expr(exprs[1])})"
            if name in _UNARY and len(exprs) == 1:
                return f"({name} {self.expr(exprs[0])})"
            raise self.refuse(node, f"the operator `{_excerpt(name, 20)}`")
        fn = ALLOWED_FUNCTIONS.get(name.lower())
        if fn is None:
            raise PredicateError(
                f"function `{_excerpt(name, 40)}` is not allowed in a slice predicate; "
                f"allowed: {', '.join(ALLOWED_FUNCTIONS)}")
        if len(exprs) < fn.min_args or (fn.max_args is not None and len(exprs) > fn.max_args):
            want = (str(fn.min_args) if fn.min_args == fn.max_args
                    else f"{fn.min_args} or more" if fn.max_args is None
                    else f"{fn.min_args} to {fn.max_args}")
            raise PredicateError(f"function `{name}` takes {want} argument(s), got {len(exprs)}")
        if name.lower() == "date_part" and (exprs[0] or {}).get("class") != "CONSTANT":
            raise PredicateError("date_part takes the part as text, e.g. date_part('year', d)")
        called = fn.spark if self.dialect == "spark" and fn.spark else name.lower()
        return f"{called}({', '.join(self.expr(e) for e in exprs)})"


def _describe(node: dict[str, Any]) -> str:
    """A reader's name for a refused node."""
    cls, t = str(node.get("class")), str(node.get("type"))
    named = {
        "SUBQUERY": "a subquery", "STAR": "`*` or COLUMNS(…)", "PARAMETER": "a parameter",
        "WINDOW": f"the window function `{node.get('function_name', '')}`",
        "LAMBDA": "a lambda", "COLLATE": "COLLATE", "POSITIONAL_REFERENCE": "a position (#1)",
    }
    if cls in named:
        return named[cls]
    if t == "ARRAY_EXTRACT" or t.startswith("ARRAY_") or t.startswith("STRUCT_"):
        return "indexing into a list or struct"
    return f"`{t.lower()}`" if t and t != "None" else "this part"
