"""Finalise models side by side: each model's statistics, then its independent parts on threads.

The metrics stage of a large table is a few seconds per model: build the model's
statistics (sorts and passes over the rows), then the reliability curve (a logistic fit
over every distinct score) and the metric values, which read the statistics and not each
other. One task per model leaves a core idle whenever the models do not divide evenly
among the threads (five models on two cores: the fifth runs alone, a fifth of the stage).
Here the parts of a model are tasks of their own, so the last model's curve and values
run on both cores, while memory still holds at most ``workers`` models' statistics: a
model's statistics are built only once an earlier model's parts are all done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["per_model"]

S = TypeVar("S")


def per_model(n: int, workers: int, load: Callable[[int], S],
              parts: Sequence[Callable[[int, S], Any]]) -> list[list[Any]]:
    """``[[part(mi, load(mi)) for part in parts] for mi in range(n)]``, on threads.

    Parameters
    ----------
    n
        Number of models.
    workers
        Threads; also the most models whose ``load`` result is held at once. ``1`` runs
        everything in order on the calling thread.
    load
        A model's statistics (the large object every part reads).
    parts
        Independent functions of ``(mi, statistics)``; they may run at the same time.

    Returns
    -------
    list of list
        Per model, each part's result, in the order of ``parts``.

    Raises
    ------
    BaseException
        The first exception any ``load`` or part raised (after every started task ended;
        no further model is started once one failed).
    """
    if workers <= 1 or n == 0:
        out = []
        for mi in range(n):
            st = load(mi)
            out.append([part(mi, st) for part in parts])
            del st
        return out
    results: list[list[Any]] = [[None] * len(parts) for _ in range(n)]
    slots = threading.Semaphore(workers)
    lock = threading.Lock()
    failures: list[BaseException] = []
    futures: list[Future[None]] = []

    def fail(exc: BaseException) -> None:
        with lock:
            failures.append(exc)

    with ThreadPoolExecutor(max_workers=workers) as pool:

        def run_part(mi: int, k: int, st: Any, left: list[int]) -> None:
            try:
                results[mi][k] = parts[k](mi, st)
            except BaseException as exc:  # handed to the caller below
                fail(exc)
            finally:
                with lock:
                    left[0] -= 1
                    last = left[0] == 0
                if last:
                    slots.release()  # this model's statistics are no longer needed

        def run_load(mi: int) -> None:
            try:
                st = load(mi)
            except BaseException as exc:
                fail(exc)
                slots.release()
                return
            left = [len(parts)]
            if not parts:
                slots.release()
                return
            with lock:
                for k in range(len(parts)):
                    futures.append(pool.submit(run_part, mi, k, st, left))

        for mi in range(n):
            slots.acquire()
            if failures:
                slots.release()
                break
            with lock:
                futures.append(pool.submit(run_load, mi))
        # Every model's slot back: every task has ended, and none will submit another,
        # so leaving the pool (which refuses new tasks) is safe.
        for _ in range(workers):
            slots.acquire()
    for f in futures:
        f.result()  # the tasks catch their own errors; this only surfaces the pool's
    if failures:
        raise failures[0]
    return results
