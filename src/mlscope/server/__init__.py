"""The local web dashboard over a store of results (``mlscope serve``).

:func:`create_server` binds a server over a :class:`~mlscope.store.Store` (tests run it in
a thread on port 0); :func:`serve` runs one until Ctrl+C. Pages only read the store. See
``docs/dashboard.md``. Importing :mod:`mlscope` does not import this package.
"""

from __future__ import annotations

from mlscope.server.app import DashboardServer, create_server, is_loopback, serve

__all__ = ["DashboardServer", "create_server", "is_loopback", "serve"]
