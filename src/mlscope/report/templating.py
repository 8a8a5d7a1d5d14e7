"""The report layer's Jinja environment: each template compiled once per process.

Compiling a template is most of the cost of rendering it: the report's templates take
tens of milliseconds to compile and well under one to render. A fresh environment per
call (as the report, the launch panel and the brief once made) compiled them again for
every report, and for every page the dashboard served.
"""

from __future__ import annotations

import functools

import jinja2

__all__ = ["environment", "template"]


@functools.cache
def environment() -> jinja2.Environment:
    """The one environment of ``mlscope/report/templates``: HTML-escaped, blocks trimmed,
    and an undefined name an error rather than an empty string.

    Jinja keeps every template it compiled (loaded on first use, an included section
    when first included) and is safe to render from several threads.
    """
    return jinja2.Environment(loader=jinja2.PackageLoader("mlscope.report", "templates"),
                              autoescape=True, trim_blocks=True, lstrip_blocks=True,
                              undefined=jinja2.StrictUndefined)


def template(name: str) -> jinja2.Template:
    """The compiled template ``name`` (e.g. ``"report.html.j2"``)."""
    return environment().get_template(name)
