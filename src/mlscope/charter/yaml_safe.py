"""Reading an untrusted charter: size, encoding and YAML limits, checked before any work.

Charters come from pull requests, so every charter is hostile until shown otherwise. The
limits here hold before the YAML is expanded or turned into Python objects:

- the file must be a regular file of at most :data:`MAX_BYTES` (1 MiB), UTF-8 text
  without control characters;
- at most :data:`MAX_ALIASES` alias uses (``*name``), no alias inside its own anchor,
  and at most :data:`MAX_VALUES` values once every alias is expanded (a "billion laughs"
  file of 500 bytes would otherwise expand to hundreds of millions of values);
- at most :data:`MAX_DEPTH` levels of nesting (deeper input would exhaust Python's stack);
- no explicit YAML tags other than the core ones (``!!str``, ``!!int``, ...): a charter
  holds text, numbers, booleans, lists and mappings, nothing else.

A real charter is a few kilobytes, a few hundred values and six or seven levels deep.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from mlscope.errors import Problem

__all__ = [
    "MAX_ALIASES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "CharterLoader",
    "YamlLimitError",
    "ascii_identifier",
    "read_charter_text",
]

MAX_BYTES = 1 << 20
MAX_ALIASES = 100
MAX_VALUES = 100_000
MAX_DEPTH = 100

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "null",
                                              "seq", "map"))
_EXPAND = ("charters may use a few anchors and aliases; expand them (write the values out "
           "where they are used)")


class YamlLimitError(yaml.YAMLError):
    """The charter breaks one of the limits; carries the line, the message and the fix."""

    def __init__(self, message: str, line: int | None, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.fix = fix

    def problem(self, file: str) -> Problem:
        """The limit as a charter problem in ``file``."""
        return Problem(self.message, file=file, line=self.line, fix=self.fix)


def _line(mark: Any) -> int | None:
    return int(mark.line) + 1 if mark is not None else None


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


class CharterLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with the limits of this module enforced while composing.

    The composer is where aliases are resolved (to the anchored node itself, shared, not
    copied) and the only recursive step, so counting there refuses a bomb while the
    document is still a few hundred nodes, and deep nesting before the stack runs out.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0
        self._values = 0  # values in the document once every alias is expanded
        self._sizes: dict[int, int] = {}  # id(node) -> its expanded size, once composed

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            return self._alias(event)
        # The parser has already joined a tag's handle and suffix (`!!python/object` is
        # tag:yaml.org,2002:python/object here); `!` alone is the non-specific tag.
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and tag not in _ALLOWED_TAGS:
            raise YamlLimitError(
                f"the YAML tag `{_show_tag(tag)}` is not allowed in a charter",
                _line(event.start_mark),
                "remove the tag; a charter holds only text, numbers, true/false, lists "
                "and mappings",
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlLimitError(
                f"the charter is nested more than {MAX_DEPTH} levels deep",
                _line(event.start_mark),
                "close the brackets; a charter needs fewer than ten levels",
            )
        self._values += 1
        if self._values > MAX_VALUES:
            raise YamlLimitError(
                f"the charter has more than {MAX_VALUES:,} values",
                _line(event.start_mark),
                "a charter describes a project in a few hundred values; keep long lists "
                "in data files",
            )
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is not None:
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(c), 1) for c in _children(node))
        return node

    def _alias(self, event: yaml.AliasEvent) -> yaml.Node:
        name = event.anchor
        line = _line(event.start_mark)
        self._aliases += 1
        if self._aliases > MAX_ALIASES:
            raise YamlLimitError(f"the charter uses more than {MAX_ALIASES} aliases (`*name`)",
                                 line, _EXPAND)
        node = self.anchors.get(name) if name is not None else None
        if node is None:  # as PyYAML words it, so that the usual hint applies
            mark: Any = event.start_mark
            raise yaml.composer.ComposerError(None, None, f"found undefined alias {name!r}",
                                              mark)
        size = self._sizes.get(id(node))
        if size is None:  # the anchored node is still being composed: a loop
            raise YamlLimitError(f"alias `*{name}` is inside its own anchor (`&{name}`), so "
                                 "the charter would contain itself", line, _EXPAND)
        self._values += size
        if self._values > MAX_VALUES:
            raise YamlLimitError(
                f"alias `*{name}` expands the charter past {MAX_VALUES:,} values (an alias "
                "bomb?)", line, _EXPAND,
            )
        self.get_event()  # type: ignore[no-untyped-call]
        return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def read_charter_text(path: Path, file: str) -> tuple[str | None, Problem | None, bool]:
    """Read a charter's text, refusing what a charter cannot be.

    Parameters
    ----------
    path
        The charter file.
    file
        The name to report problems under.

    Returns
    -------
    tuple
        ``(text, None, False)`` when readable; otherwise ``(None, problem, unreadable)``,
        ``unreadable`` being true when there is no file to read at all (missing, a folder,
        a device, no permission) rather than a file with bad content.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        return None, Problem(
            "charter not found: there is no such file", file=file,
            fix="check the path (it is relative to the current folder); start a charter "
            "from the examples in docs/charter.md",
        ), True
    except OSError as exc:
        return None, Problem(f"cannot read the charter: {exc.strerror or exc}", file=file,
                             fix="check the path and the file's permissions"), True
    if stat.S_ISDIR(st.st_mode):
        return None, Problem("this is a folder, not a charter file", file=file,
                             fix=f"pass the YAML file, e.g. {path / 'mlscope.yaml'}"), True
    if not stat.S_ISREG(st.st_mode):
        # A FIFO, a device (/dev/zero) or a socket: reading it may block or never end.
        return None, Problem("not a regular file (a pipe, device or socket)", file=file,
                             fix="pass the charter's YAML file"), True
    if st.st_size > MAX_BYTES:
        return None, Problem(
            f"the charter is {st.st_size:,} bytes; the limit is 1 MiB", file=file,
            fix="a charter is a few kilobytes of YAML; keep data in data files",
        ), False
    try:
        # O_NONBLOCK: should the file be swapped for a FIFO after the check, open() does
        # not wait for a writer; the read is still capped at the limit.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        return None, Problem(f"cannot read the charter: {exc.strerror or exc}", file=file,
                             fix="check the file's permissions"), True
    if len(raw) > MAX_BYTES:
        return None, Problem("the charter is larger than the limit of 1 MiB", file=file,
                             fix="a charter is a few kilobytes of YAML"), False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        return None, Problem(
            f"the file is not UTF-8 text ({exc.reason} at byte {exc.start}, line {line})",
            file=file, line=line, fix="save the charter as UTF-8 text",
        ), False
    bad = next((i for i, ch in enumerate(text) if _control(ch)), None)
    if bad is not None:
        line = text.count("\n", 0, bad) + 1
        return None, Problem(
            f"the file holds the control character U+{ord(text[bad]):04X} on line {line}; "
            "is it a binary file?", file=file, line=line,
            fix="pass the charter's YAML text file (control characters other than tab and "
            "newline are not allowed)",
        ), False
    return text, None, False


def _control(ch: str) -> bool:
    # What YAML refuses as unprintable; PyYAML raises it while constructing its reader,
    # outside any position in the document, so it is checked here with a line instead.
    return ch not in "\t\n\r" and (unicodedata.category(ch) == "Cc" or ch == "\ufffe"
                                   or ch == "\uffff")


_TRANSLIT = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss",
             "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "ø": "o", "Ø": "O", "ł": "l",
             "Ł": "L", "đ": "d", "Đ": "D", "þ": "th", "Þ": "Th"}


def ascii_identifier(name: str, default: str = "slice") -> str:
    """An ASCII identifier close to ``name``: accents dropped, not replaced by ``_``.

    ``"größer als"`` becomes ``"groesser_als"`` and ``"région"`` ``"region"``, so a
    suggested rename reads like the name the user wrote.
    """
    s = "".join(_TRANSLIT.get(ch, ch) for ch in name)
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")
    out = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in s)
    while "__" in out:
        out = out.replace("__", "_")
    out = out.strip("_") or default
    return f"_{out}" if out[0].isdigit() else out
