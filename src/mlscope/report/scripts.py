"""The report's only script, and the Content Security Policy that lets only it run.

A report shows strings from a result (model, metric and slice names, warnings, texts), and a
result is untrusted input. Every such string is escaped; the policy is the second line of
defence: inline script runs only when its SHA-256 is listed, so markup that slipped through
escaping still cannot run script. The standalone ``report.html`` has no server to send the
policy as a header, so it carries it in a ``<meta http-equiv>`` tag (the dashboard sends it
as a header as well, see :mod:`mlscope.server.security`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

__all__ = ["REPORT_CSP", "SORT_JS", "content_security_policy", "script_hash"]

SORT_JS = (
    "document.querySelectorAll('table.sortable th[data-col]').forEach(function(th){"
    "th.addEventListener('click',function(){var t=th.closest('table'),b=t.tBodies[0],"
    "i=+th.dataset.col,asc=th.getAttribute('aria-sort')!=='ascending';"
    "t.querySelectorAll('th[aria-sort]').forEach(function(h){h.removeAttribute('aria-sort')});"
    "th.setAttribute('aria-sort',asc?'ascending':'descending');"
    "Array.prototype.slice.call(b.rows).sort(function(r,s){"
    "var x=parseFloat(r.cells[i].dataset.v),y=parseFloat(s.cells[i].dataset.v);"
    "if(isNaN(x))return isNaN(y)?0:1;if(isNaN(y))return -1;return asc?x-y:y-x})"
    ".forEach(function(r){b.appendChild(r)})})});"
)
"""Sortable tables: a click on a column header sorts the rows by the cells' ``data-v``."""


def script_hash(source: str) -> str:
    """The CSP source expression (``'sha256-…'``) that allows one inline script.

    Parameters
    ----------
    source
        The script's text exactly as it stands between ``<script>`` and ``</script>``.

    Returns
    -------
    str
        ``'sha256-<base64>'``, quotes included.
    """
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(scripts: Iterable[str], *, img: str = "data:",
                            form: str = "'none'", extra: str = "") -> str:
    """A policy that loads nothing from elsewhere and runs only ``scripts`` (by hash).

    Parameters
    ----------
    scripts
        The texts of the page's own inline scripts.
    img
        The ``img-src`` sources (``data:`` for a standalone page; the dashboard adds
        ``'self'`` for its icon).
    form
        The ``form-action`` sources (the dashboard's history page submits to itself).
    extra
        Directives appended as they are (e.g. ``frame-ancestors``, which only a header can
        carry).

    Returns
    -------
    str
        The policy: no default source, inline styles, the images ``img``, forms to
        ``form``, no ``<base>``, and script only by hash (no ``'unsafe-inline'``).
    """
    hashes = " ".join(sorted({script_hash(s) for s in scripts}))
    policy = (f"default-src 'none'; img-src {img}; style-src 'unsafe-inline'; "
              f"script-src {hashes}; form-action {form}; base-uri 'none'")
    return policy + (f"; {extra}" if extra else "")


REPORT_CSP = content_security_policy([SORT_JS])
"""The standalone report's policy, carried in its ``<meta http-equiv>`` tag."""
