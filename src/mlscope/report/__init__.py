"""Renderers of an :class:`~mlscope.result.EvaluationResult`: HTML, terminal, SVG charts.

Renderers only read a result; they never recompute a metric.
"""

from mlscope.report.html import render_html, write_html
from mlscope.report.terminal import render_terminal

__all__ = ["render_html", "render_terminal", "write_html"]
