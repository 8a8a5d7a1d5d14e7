"""Finalise models side by side: each model's statistics, then its independent parts on threads.

The metrics stage of a large table is a few seconds per model: build the model's
statistics (sorts and passes over the rows), then the reliability curve (a logistic fit
over every distinct score) and the metric values, which read the statistics and not each
other. One task per model leaves a core idle whenever the models do not divide evenly
among the threads (five models on two cores: the fifth runs alone, a fifth of the stage).
Here the parts of a model are tasks of their own, so the last model's curve and values
run on both cores, while memory still holds at most ``workers`` models' statistics: a
model's statistics are built only once an earlier model's parts are all done. The thread
that frees such a slot queues the next model's build and takes it before any part that
is waiting: a build runs on one thread, so started late it would leave the other threads
idle at the end (five models on two cores: the fifth build ran alone after a waiting
part, 0.2–0.3 s at 10M rows).
"""

from __future__ import annotations

import functools
import itertools
import queue
import threading
from collections.abc import Callable, Sequence
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
    lock = threading.Lock()
    failures: list[BaseException] = []
    # (priority, order, task): a model's statistics (0) before any waiting part (1), so
    # that a freed slot starts the next model's (single-threaded) build at once instead of
    # behind parts that the other threads would run meanwhile. None (-1) stops a thread.
    tasks: queue.PriorityQueue[tuple[int, int, Callable[[], None] | None]] = (
        queue.PriorityQueue())
    order = itertools.count()
    models = {"next": 0, "active": 0}  # the next model to load; models loaded, not done
    finished = threading.Event()

    def put(priority: int, task: Callable[[], None] | None) -> None:
        tasks.put((priority, next(order), task))

    def start_next() -> None:
        # (Under the lock.) Queued by the thread that freed the slot, before it takes its
        # next task: that task is then this load.
        if not failures and models["next"] < n:
            mi = models["next"]
            models["next"] += 1
            models["active"] += 1
            put(0, functools.partial(run_load, mi))

    def model_done(exc: BaseException | None = None) -> None:
        with lock:
            if exc is not None:
                failures.append(exc)
            models["active"] -= 1
            start_next()
            if models["active"] == 0:
                finished.set()

    def run_part(mi: int, k: int, st: Any, left: list[int]) -> None:
        err: BaseException | None = None
        try:
            results[mi][k] = parts[k](mi, st)
        except BaseException as exc:  # handed to the caller below
            err = exc
        with lock:
            left[0] -= 1
            last = left[0] == 0
            if err is not None and not last:
                failures.append(err)
        if last:
            model_done(err)  # this model's statistics are no longer needed

    def run_load(mi: int) -> None:
        try:
            st = load(mi)
        except BaseException as exc:
            model_done(exc)
            return
        if not parts:
            model_done()
            return
        left = [len(parts)]
        for k in range(len(parts)):
            put(1, functools.partial(run_part, mi, k, st, left))

    def worker() -> None:
        while True:
            task = tasks.get()[2]
            if task is None:
                return
            task()  # catches its own errors

    threads = [threading.Thread(target=worker, name=f"mlscope-model-{i}", daemon=True)
               for i in range(workers)]
    for th in threads:
        th.start()
    try:
        with lock:
            for _ in range(workers):
                start_next()
        finished.wait()  # every model's tasks have ended, and none will queue another
    finally:
        for _ in threads:
            put(-1, None)
        for th in threads:
            th.join()
    if failures:
        raise failures[0]
    return results
