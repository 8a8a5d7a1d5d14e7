"""The dashboard's HTTP side: routes, store access, and the server.

Standard library only (:class:`http.server.ThreadingHTTPServer`) plus Jinja2 templates.
Every page reads the store and renders server-side HTML with inline SVG, CSS and a few
lines of JavaScript: no external references, so it works offline and behind a firewall.

Routes::

    /                          projects (redirects to the project when there is one)
    /p/<project>               the latest decision and the runs, newest first (?page=N)
    /p/<project>/history       a metric over runs (?metric=&split=&last=&model=...)
    /p/<project>/brief         the project brief, from the latest run's charter and result
    /p/<project>/monitoring    ``mlscope monitor``'s windows over time (?last=30|90|365|all)
    /runs/<id>                 one run: metric table, trade-off, slices, baselines (?split=)
    /runs/<id>/report          the run's full HTML report, as ``mlscope run`` writes it
    /healthz                   "ok"

Pages never load every run's full result: the overview and the history read run
summaries (one page of them) and :meth:`~mlscope.store.Store.history`; only the latest
run's result is loaded, and results are cached (a stored result never changes).
"""

from __future__ import annotations

import re
import socket
import sys
import threading
import traceback
import webbrowser
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import jinja2
from markupsafe import Markup

from mlscope._version import __version__
from mlscope.errors import did_you_mean
from mlscope.report.html import key_metrics
from mlscope.report.panels_verdict import launch_html
from mlscope.report.scripts import SORT_JS
from mlscope.result import EvaluationResult
from mlscope.server import pages
from mlscope.server.charter_diff import charter_diffs
from mlscope.server.security import (
    HISTORY_JS,
    SECURITY_HEADERS,
    TOGGLE_JS,
    allowed_hosts,
    host_name,
    is_loopback,
)

if TYPE_CHECKING:
    from mlscope.store import RunSummary, Store

__all__ = ["DashboardServer", "create_server", "is_loopback", "serve"]

PAGE_SIZE = 25  # runs per page of the overview
WINDOWS = (20, 50, 100, 200, 500)  # run windows offered on the history page ("all" too)
DEFAULT_WINDOW = 100
CACHE_SIZE = 8  # parsed results kept in memory

FAVICON = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
           b'<circle cx="8" cy="8" r="6" fill="none" stroke="#0072B2" stroke-width="2.5"/>'
           b'<circle cx="8" cy="8" r="2" fill="#D55E00"/></svg>')


class HttpError(Exception):
    """A page that cannot be shown: rendered as an error page with ``status``."""

    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(title)
        self.status, self.title, self.detail = status, title, detail


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


# -- query parameters -----------------------------------------------------------------------


Query = dict[str, list[str]]


def _one(q: Query, name: str) -> str | None:
    vals = q.get(name)
    if not vals:
        return None
    if len(set(vals)) > 1:
        raise HttpError(400, f"`{name}` was given {len(vals)} times",
                        f"Give one value of `{name}`; received: {', '.join(vals)}.")
    return vals[0]


def _int(q: Query, name: str, default: int, *, minimum: int = 1) -> int:
    raw = _one(q, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HttpError(400, f"`{name}` must be a whole number",
                        f"`{name}` must be a whole number ≥ {minimum}; received {raw!r}."
                        ) from None
    if value < minimum:
        raise HttpError(400, f"`{name}` must be at least {minimum}",
                        f"`{name}` must be a whole number ≥ {minimum}; received {raw!r}.")
    return value


def _choice(q: Query, name: str, options: list[str], default: str) -> str:
    raw = _one(q, name)
    if raw is None or raw == "":
        return default
    if raw not in options:
        raise HttpError(400, f"unknown {name} {raw!r}",
                        f"`{name}` must be one of: {', '.join(options)}; received {raw!r}"
                        f"{did_you_mean(raw, options) or '.'}")
    return raw


# -- the application --------------------------------------------------------------------------


class Dashboard:
    """Routes requests to pages. Reads the store only; never writes to it.

    Parameters
    ----------
    store
        The store of results.
    page_size
        Runs per page of the overview.
    """

    def __init__(self, store: Store, *, page_size: int = PAGE_SIZE) -> None:
        self.store = store
        self.page_size = page_size
        # The store is safe to read from several threads (a connection pool); the lock
        # only guards the cache of parsed results.
        self._lock = threading.Lock()
        self._results: OrderedDict[int, EvaluationResult] = OrderedDict()
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("mlscope.server", "templates"),
            autoescape=True, trim_blocks=True, lstrip_blocks=True,
            undefined=jinja2.StrictUndefined)
        self._env.globals.update(project_href=pages.project_href, version=__version__)
        self._routes: list[tuple[re.Pattern[str], Callable[..., Response]]] = [
            (re.compile(r"/"), self.projects),
            (re.compile(r"/healthz"), self.healthz),
            (re.compile(r"/favicon\.ico"), self.favicon),
            (re.compile(r"/p/([^/]+)"), self.overview),
            (re.compile(r"/p/([^/]+)/history"), self.history),
            (re.compile(r"/p/([^/]+)/brief"), self.brief),
            (re.compile(r"/p/([^/]+)/monitoring"), self.monitoring),
            (re.compile(r"/runs/([0-9]{1,18})"), self.run),
            (re.compile(r"/runs/([0-9]{1,18})/report"), self.report),
        ]

    # -- plumbing ---------------------------------------------------------------------------

    def respond(self, target: str) -> Response:
        """The response to a GET of ``target`` (path and query)."""
        parts = urlsplit(target)
        path = parts.path if parts.path == "/" else parts.path.rstrip("/")
        try:
            query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
            for pattern, handler in self._routes:
                m = pattern.fullmatch(path)
                if m:
                    return handler(*[unquote(g) for g in m.groups()], query=query)
            raise HttpError(404, "No such page", f"Nothing is served at {path}.")
        except HttpError as e:
            return self.error(e)

    def render(self, template: str, status: int = 200, **ctx: Any) -> Response:
        html = self._env.get_template(template).render(**ctx)
        return Response(status, html.encode("utf-8"))

    def error(self, e: HttpError) -> Response:
        return self.render("error.html.j2", e.status, title=e.title, detail=e.detail,
                           code=e.status, phrase=HTTPStatus(e.status).phrase, crumbs=[])

    def result(self, run_id: int) -> EvaluationResult:
        """A run's result, from the cache when it was read recently.

        A stored result never changes, so the cache needs no invalidation; it spares
        parsing the latest run's (possibly large) result on every page.
        """
        with self._lock:
            if run_id in self._results:
                self._results.move_to_end(run_id)
                return self._results[run_id]
        res: EvaluationResult = self.store.result(run_id)
        with self._lock:
            self._results[run_id] = res
            while len(self._results) > CACHE_SIZE:
                self._results.popitem(last=False)
        return res

    def _charter(self, run_id: int) -> Any:
        return self.result(run_id).charter

    def _summary(self, run_id: int) -> RunSummary:
        from mlscope.store import StoreError

        try:
            return self.store.run(run_id)
        except StoreError as e:
            if not str(e).startswith("no run"):
                raise  # the store failed: a 500, not a missing page
            raise HttpError(404, f"No run #{run_id}",
                            f"The store has no run with id {run_id}.") from None

    def _latest(self, project: str) -> RunSummary:
        latest = self.store.runs(project, limit=1)
        if not latest:
            known = self.store.projects()
            mon = pages.project_href(project, "monitoring")
            raise HttpError(404, f"No project {project!r}",
                            "The store has no runs of this project"
                            + (f" (its monitor records: {mon})"
                               if self.store.monitors(project, limit=1) else "")
                            + (f"; projects: {', '.join(known)}." if known else "."))
        return latest[0]

    # -- pages -------------------------------------------------------------------------------

    def healthz(self, *, query: Query) -> Response:
        return Response(200, b"ok\n", "text/plain; charset=utf-8")

    def favicon(self, *, query: Query) -> Response:
        return Response(200, FAVICON, "image/svg+xml",
                        {"Cache-Control": "max-age=86400"})

    def projects(self, *, query: Query) -> Response:
        from mlscope.server.monitoring import projects_view

        go, rows = projects_view(self.store)  # monitor-only projects listed too
        if go is not None:
            return Response(302, b"", headers={"Location": go})
        return self.render("projects.html.j2", projects=rows, crumbs=[],
                           title="Projects")

    def overview(self, project: str, *, query: Query) -> Response:
        page = _int(query, "page", 1)
        latest = self._latest(project)
        runs = self.store.runs(project, limit=self.page_size + 1,
                           offset=(page - 1) * self.page_size)
        if not runs:
            raise HttpError(404, f"No page {page}",
                            f"Project {project!r} has fewer than "
                            f"{(page - 1) * self.page_size + 1} runs.")
        more, runs = len(runs) > self.page_size, runs[: self.page_size]
        total = self.store.count(project)
        result = self.result(latest.id)
        colors = pages.colors_for(result, [r.winner for r in runs if r.winner])
        keys = key_metrics(result)
        diffs = charter_diffs(self.store, runs, self._charter,
                              offset=(page - 1) * self.page_size)
        rows = [pages.run_row(r, colors, diffs.get(r.id)) for r in runs]
        return self.render(
            "overview.html.j2", title=project, project=project,
            crumbs=[(pages.project_href(project), project)],
            latest=pages.run_row(latest, colors, diffs.get(latest.id)),
            decision=pages.decision_view(result),
            # "Should we ship?" leads the project's page as it leads the run's.
            launch=launch_html(result, pages.decimals(result)),
            standing=pages.standings_view(result, result.winner),
            has_baselines=bool(result.baselines),
            monitored=bool(self.store.monitors(project, limit=1)),
            runs=rows,
            page=page, first=(page - 1) * self.page_size + 1, total=total,
            pages=-(-total // self.page_size),
            newer=pages.project_href(project, page=page - 1 if page > 2 else None)
            if page > 1 else "",
            older=pages.project_href(project, page=page + 1) if more else "",
            history=[{"metric": k, "label": result.metric_info(k).label,
                      "href": pages.project_href(project, "history", metric=k)}
                     for k in keys])

    def history(self, project: str, *, query: Query) -> Response:
        latest = self._latest(project)
        result = self.result(latest.id)
        metric_ids = [m.id for m in result.metrics]
        if not metric_ids:
            raise HttpError(404, "No metrics", f"The latest run of {project!r} has none.")
        keys = key_metrics(result)
        metric = _choice(query, "metric", metric_ids,
                         latest.selection_metric if latest.selection_metric in metric_ids
                         else (keys or metric_ids)[0])
        splits = pages.splits_of(result) or [str(result.splits.get("selection") or "")]
        split = _choice(query, "split", splits, splits[0])
        windows = [str(w) for w in WINDOWS] + ["all"]
        last = _choice(query, "last", windows, str(DEFAULT_WINDOW))
        window = None if last == "all" else int(last)
        summaries = list(reversed(self.store.runs(project, limit=window)))
        ids = {s.id for s in summaries}
        points = [p for p in self.store.history(project, metric, split=split)
                  if p.run_id in ids]
        present = list(dict.fromkeys(p.model for p in points))
        # The chooser lists the latest run's models in the report's order, then the rest.
        order = [m.name for m in result.models if m.name in present]
        all_models = order + [m for m in present if m not in order]
        asked = [m for m in query.get("model", []) if m]
        unknown = [m for m in asked if m not in all_models]
        if unknown:
            raise HttpError(400, f"unknown model {unknown[0]!r}",
                            f"`model` must name a model with a value of {metric} in these "
                            f"runs: {', '.join(all_models) or 'none'}"
                            f"{did_you_mean(unknown[0], all_models) or '.'}")
        models = ([m for m in all_models if m in asked] if asked
                  else pages.default_models(result, metric, split, all_models))
        view = pages.history_view(project=project, result=result,
                                  info=result.metric_info(metric), split=split,
                                  summaries=summaries, points=points, models=models,
                                  all_models=all_models)
        return self.render(
            "history.html.j2", title=f"{project} · history", project=project,
            crumbs=[(pages.project_href(project), project),
                    (pages.project_href(project, "history"), "history")],
            view=view, metric=metric, split=split, last=last,
            metrics=[{"id": m.id, "label": m.label, "key": m.id in keys}
                     for m in result.metrics],
            splits=splits, windows=windows, shown=len(models), total=len(all_models),
            history_js=Markup(HISTORY_JS), toggle_js=Markup(TOGGLE_JS))

    def brief(self, project: str, *, query: Query) -> Response:
        from mlscope.report.brief import brief_body_html

        latest = self._latest(project)
        result = self.result(latest.id)
        brief = pages.brief_of(result, self.store.charter_text(latest.id),
                               source=f"run #{latest.id}")
        if brief is None:
            raise HttpError(404, "No brief", f"The charter stored with run #{latest.id} "
                            "cannot be read by this mlscope.")
        return self.render(
            "brief.html.j2", title=f"{project} · brief", project=project,
            crumbs=[(pages.project_href(project), project),
                    (pages.project_href(project, "brief"), "brief")],
            run_id=latest.id, when=pages.when(latest.created_at),
            body=brief_body_html(brief))

    def monitoring(self, project: str, *, query: Query) -> Response:
        from mlscope.server import monitoring as mon

        last = _choice(query, "last", list(mon.LAST), mon.DEFAULT_LAST)
        try:
            view = mon.monitoring_view(self.store, project, last)
        except mon.DamagedRecord as e:
            raise HttpError(500, "A monitor record cannot be read", f"{e}.") from None
        if view is None:
            raise HttpError(404, f"No monitoring of {project!r}", mon.NO_RECORDS)
        return self.render("monitoring.html.j2", project=project, view=view, **view["page"])

    def run(self, run_id: str, *, query: Query) -> Response:
        summary = self._summary(int(run_id))
        result = self.result(int(run_id))
        splits = pages.splits_of(result) or [str(result.splits.get("selection") or "")]
        split = _choice(query, "split", splits, splits[0])
        view = pages.run_page_view(summary, result, split)
        view["run"]["charter_diff"] = charter_diffs(self.store, [summary],
                                                    self._charter).get(summary.id, [])
        return self.render(
            "run.html.j2", title=f"{summary.project} · run #{summary.id}",
            project=summary.project, view=view, split=split,
            crumbs=[(pages.project_href(summary.project), summary.project),
                    (f"/runs/{summary.id}", f"run #{summary.id}")],
            sort_js=Markup(SORT_JS), toggle_js=Markup(TOGGLE_JS))

    def report(self, run_id: str, *, query: Query) -> Response:
        from mlscope.report import render_html

        self._summary(int(run_id))
        return Response(200, render_html(self.result(int(run_id))).encode("utf-8"))


# -- the server -------------------------------------------------------------------------------


class DashboardServer(ThreadingHTTPServer):
    """A :class:`ThreadingHTTPServer` serving a :class:`Dashboard`.

    ``url`` is where it listens; ``allowed_hosts`` are the ``Host`` names accepted
    (:func:`mlscope.server.security.allowed_hosts`), which keeps other web sites from
    reading the dashboard through a DNS name they rebind to its address.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], dashboard: Dashboard, *,
                 allowed_hosts: frozenset[str], verbose: bool = False) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6  # an IPv6 address needs an IPv6 socket
        super().__init__(address, _Handler)
        self.dashboard = dashboard
        self.allowed_hosts = allowed_hosts
        self.verbose = verbose

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = str(host)
        if shown in ("0.0.0.0", "::", ""):
            shown = "127.0.0.1"
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{port}/"


_ALLOW = "GET, HEAD"


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    # No version in the Server header: it only helps to pick an exploit.
    server_version = "mlscope"
    sys_version = ""
    protocol_version = "HTTP/1.1"  # keep-alive: a page and its favicon share a connection
    timeout = 60  # seconds an idle kept-alive connection may hold a thread

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _not_allowed(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """Answer an error the request line or the method caused with the dashboard's
        headers (the base class writes its own page without them).

        An unknown method is a 405 with ``Allow``, like the known ones the dashboard does
        not serve, not the base class's 501.
        """
        # The request's body is not read, so the connection cannot carry another request.
        self.close_connection = True
        headers = {}
        if code in (HTTPStatus.NOT_IMPLEMENTED, HTTPStatus.METHOD_NOT_ALLOWED):
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, "only GET and HEAD"
            headers["Allow"] = _ALLOW
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        text = f"{int(code)} {message or phrase}\n".encode("utf-8", "replace")
        body = getattr(self, "command", None) != "HEAD" and code >= 200 \
            and code not in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED)
        self._send(Response(int(code), text, "text/plain; charset=utf-8", headers),
                   body=body)

    def _refusal(self) -> HttpError | None:
        """Why the request's target or ``Host`` rules it out (``None``: it does not)."""
        if not self.path.startswith("/"):
            # Absolute form (GET http://other/ HTTP/1.1) is for proxies; the dashboard is
            # not one, and the host in it would bypass the Host check.
            return HttpError(400, "Unexpected request target",
                             "Ask for a path on this server, e.g. GET / HTTP/1.1.")
        values = self.headers.get_all("Host") or []
        name = host_name(values[0]) if len(values) == 1 else None
        if name is None:
            return HttpError(400, "Missing Host header",
                             "Send one Host header naming the dashboard's host.")
        if name not in self.server.allowed_hosts:
            # The names are not listed: a rebinding page would learn the machine's.
            return HttpError(400, "Unexpected Host header",
                             "This dashboard answers only to its machine's own names and "
                             "addresses and to the names given with "
                             "`mlscope serve --allow-host`.")
        return None

    def _serve(self, *, body: bool) -> None:
        app = self.server.dashboard
        refusal = self._refusal()
        if refusal is not None:
            self.close_connection = True
            resp = app.error(refusal)
        else:
            try:
                resp = app.respond(self.path)
            except Exception as e:  # a bug or a broken store: say so, keep serving
                traceback.print_exc(file=sys.stderr)
                resp = app.error(HttpError(500, "The page could not be built",
                                           f"{type(e).__name__}: {e}"))
        self._send(resp, body=body)

    def _send(self, resp: Response, *, body: bool) -> None:
        if self.request_version == "HTTP/0.9":
            # A malformed request line leaves the base class at HTTP/0.9, which answers
            # with a bare body; every answer gets a status line and the headers instead.
            self.request_version = "HTTP/1.0"
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for k, v in SECURITY_HEADERS.items():
            self.send_header(k, v)
        if "Cache-Control" not in resp.headers:
            self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(resp.body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


def create_server(store: Store, *, host: str = "127.0.0.1", port: int = 8765,
                  allow_hosts: Iterable[str] = ()) -> DashboardServer:
    """A dashboard server over ``store``, bound and ready for ``serve_forever()``.

    Parameters
    ----------
    store
        The store of results (:meth:`mlscope.store.Store.open`). Only read.
    host
        The interface to listen on. The dashboard has no authentication: anything other
        than a loopback address (``127.0.0.1``, ``::1``, ``localhost``) prints a warning,
        because anyone who can reach the port can read every stored result.
    port
        The TCP port; 0 picks a free one (read it back from ``server.server_address``
        or ``server.url``).
    allow_hosts
        Names the dashboard also answers to in the ``Host`` header (besides loopback
        names, ``host`` and, bound beyond loopback, the machine's own names and
        addresses), e.g. a DNS name that points at this machine.

    Returns
    -------
    DashboardServer
        A :class:`http.server.ThreadingHTTPServer`; call ``serve_forever()`` (in a thread,
        for tests) and ``shutdown()`` / ``server_close()`` to stop.

    Raises
    ------
    ValueError
        A name in ``allow_hosts`` is not a host name or an address.
    OSError
        The server cannot listen there (:func:`mlscope.server.security.bind_error` says
        why in words).
    """
    allowed = allowed_hosts(host, allow_hosts)
    server = DashboardServer((host, port), Dashboard(store), allowed_hosts=allowed)
    if not is_loopback(host):
        print(f"warning: the mlscope dashboard is listening on {host or 'every interface'}, "
              "not on a loopback address; it has no authentication, so anyone who can "
              "reach this port can read every stored result.", file=sys.stderr)
    return server


def serve(store: Store, *, host: str = "127.0.0.1", port: int = 8765,
          open_browser: bool = False, allow_hosts: Iterable[str] = ()) -> None:
    """Serve the dashboard over ``store`` until interrupted (Ctrl+C).

    Parameters
    ----------
    store
        The store of results.
    host, port, allow_hosts
        Where to listen and the further names to answer to (see :func:`create_server`).
    open_browser
        Open the dashboard in the default web browser once it listens.
    """
    server = create_server(store, host=host, port=port, allow_hosts=allow_hosts)
    server.verbose = True
    print(f"mlscope dashboard: {server.url}  (Ctrl+C to stop)", file=sys.stderr)
    if open_browser:
        # The socket already listens: the browser's request waits in the backlog.
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
