"""The report layer's Jinja environment: each template compiled once per process.

Compiling a template is most of the cost of rendering it: the report's templates take
tens of milliseconds to compile and well under one to render. A fresh environment per
call (as the report, the launch panel and the brief once made) compiled them again for
every report, and for every page the dashboard served.
"""

from __future__ import annotations

import functools
import re

import jinja2
from markupsafe import Markup, escape

__all__ = ["environment", "template", "ticks"]

_TICKS = re.compile(r"`([^`\n]+)`")


def ticks(text: object) -> Markup:
    """``text`` HTML-escaped, with each `` `name` `` (how the messages quote a charter key,
    a model or a value, written for the terminal) set as code instead of showing its
    backticks."""
    return Markup(_TICKS.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))


@functools.cache
def environment() -> jinja2.Environment:
    """The one environment of ``mlscope/report/templates``: HTML-escaped, blocks trimmed,
    and an undefined name an error rather than an empty string.

    Jinja keeps every template it compiled (loaded on first use, an included section
    when first included) and is safe to render from several threads.
    """
    env = jinja2.Environment(loader=jinja2.PackageLoader("mlscope.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["ticks"] = ticks
    return env


def template(name: str) -> jinja2.Template:
    """The compiled template ``name`` (e.g. ``"report.html.j2"``)."""
    return environment().get_template(name)
