"""The dashboard's defences at the HTTP edge: Host checks, response headers, bind errors.

DNS rebinding: a web page the user visits can point its own name at the dashboard's address
and then read the dashboard as same-origin. Only the ``Host`` header tells such a request
apart, so every request must name the dashboard by one of its own names: loopback names,
the bound address, the machine's names and addresses when bound beyond loopback, and what
``--allow-host`` adds. The policy and headers below go on every response, error pages
included; the only scripts that run are the dashboard's own, allowed by their hashes.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import re
import socket
from collections.abc import Iterable

from mlscope.report.scripts import SORT_JS, content_security_policy

__all__ = [
    "CSP",
    "HISTORY_JS",
    "LOOPBACK_NAMES",
    "SECURITY_HEADERS",
    "TOGGLE_JS",
    "allowed_hosts",
    "bind_error",
    "host_name",
    "is_loopback",
    "machine_names",
    "normalize_host",
]

HISTORY_JS = (
    "document.querySelectorAll('form.controls select').forEach(function(s){"
    "s.addEventListener('change',function(){s.form.submit()})});"
)
"""The history page: changing a list redraws the chart at once (the button stays for
keyboards and for browsers without script)."""

TOGGLE_JS = (
    "document.querySelectorAll('input[data-toggle]').forEach(function(c){"
    "c.addEventListener('change',function(){var m=c.getAttribute('data-toggle');"
    "document.querySelectorAll('svg [data-model]').forEach(function(e){"
    "if(e.getAttribute('data-model')===m){e.style.display=c.checked?'':'none'}})})});"
)
"""Charts with a model list: unticking a model hides its points, lines and labels at once
(the history page's list also narrows the chart from the server on "Show")."""

CSP = content_security_policy([SORT_JS, HISTORY_JS, TOGGLE_JS], img="'self' data:", form="'self'",
                              extra="frame-ancestors 'none'")
"""Every response's policy: nothing from elsewhere, and only the dashboard's own scripts
(the report's sort script among them, so the report page runs under the same header)."""

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
"""Headers sent with every response."""

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_])?")
_HOST = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9_.-]+))(?::[0-9]{1,5})?")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) only reaches this machine.

    ``""``, ``0.0.0.0`` and ``::`` listen on every interface, so they are not loopback; a
    name is loopback when every address it resolves to is.
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    if not host:
        return False
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def normalize_host(name: str) -> str:
    """A host name or address as the ``Host`` check compares it (lower case, no brackets,
    no trailing dot).

    Raises
    ------
    ValueError
        ``name`` is neither an IP address nor a DNS name (e.g. it holds a space, a slash
        or a port).
    """
    text = name.strip().lower().removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    text = text.removesuffix(".")
    if not _NAME.fullmatch(text) or ".." in text:
        raise ValueError(f"{name!r} is not a host name or an IP address (give a name such "
                         "as dashboard.example.org or an address, without a port)")
    return text


def host_name(header: str) -> str | None:
    """The host a ``Host`` header names (port dropped, normalised); ``None`` when the
    header is empty or malformed."""
    m = _HOST.fullmatch(header.strip().lower())
    if m is None:
        return None
    try:
        return normalize_host(m["v6"] or m["name"])
    except ValueError:
        return None


def machine_names() -> set[str]:
    """This machine's host name, fully qualified name, and the addresses they resolve to."""
    names: set[str] = set()
    for get in (socket.gethostname, socket.getfqdn):
        try:
            names.add(normalize_host(get()))
        except (OSError, ValueError):
            continue
    for name in list(names):
        try:
            infos = socket.getaddrinfo(name, None)
        except OSError:
            continue
        for info in infos:
            try:
                names.add(normalize_host(str(info[4][0]).split("%")[0]))
            except ValueError:
                continue
    return names


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The ``Host`` names a dashboard bound to ``bound`` answers to.

    Parameters
    ----------
    bound
        The address or name it listens on.
    extra
        Further names (``--allow-host``), e.g. a DNS name that points at the machine or a
        reverse proxy's.

    Returns
    -------
    frozenset of str
        Loopback names, ``bound`` itself, the machine's own names and addresses when
        ``bound`` is not loopback (:func:`machine_names`), and ``extra``; never empty,
        never "any".

    Raises
    ------
    ValueError
        A name in ``extra`` is not a host name or an address.
    """
    names = set(LOOPBACK_NAMES) | {normalize_host(e) for e in extra}
    with contextlib.suppress(ValueError):  # "" (every interface) names nothing
        names.add(normalize_host(bound))
    if not is_loopback(bound):
        names |= machine_names()
    return frozenset(names)


def bind_error(host: str, port: int, exc: OSError) -> str:
    """What to tell the user when the dashboard cannot listen on ``host``:``port``.

    An address that is not this machine's, or a name that does not resolve, is the host's
    fault, not the port's; a port in use or reserved is the port's.
    """
    if isinstance(exc, socket.gaierror) or exc.errno in (errno.EADDRNOTAVAIL,
                                                         errno.EAFNOSUPPORT):
        return (f"--host {host} is not an address of this machine (or does not resolve): "
                "use 127.0.0.1 (this machine only, the default), localhost, ::1, 0.0.0.0 "
                "(every interface) or the address of one of this machine's network "
                "interfaces")
    if exc.errno == errno.EADDRINUSE:
        return (f"cannot listen on port {port} of {host}: the port is in use; choose "
                "another --port (0 picks a free one)")
    if exc.errno == errno.EACCES:
        return (f"cannot listen on port {port} of {host}: permission denied (ports below "
                "1024 need privileges); choose another --port")
    return f"cannot listen on port {port} of {host}: {exc.strerror or exc}"
