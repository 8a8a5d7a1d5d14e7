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
    return _Stages(n, workers, load, parts).run()


class _Stages:
    """The threaded form of :func:`per_model`.

    A class, not closures: closures that call one another form a reference cycle, which
    only the cyclic garbage collector frees, so everything they reached (the loader, and
    through it the rows) would outlive the stage.
    """

    def __init__(self, n: int, workers: int, load: Callable[[int], Any],
                 parts: Sequence[Callable[[int, Any], Any]]) -> None:
        self.n, self.workers, self.load, self.parts = n, workers, load, parts
        self.results: list[list[Any]] = [[None] * len(parts) for _ in range(n)]
        self.lock = threading.Lock()
        self.failures: list[BaseException] = []
        # (priority, order, task): a model's statistics (0) before any waiting part (1),
        # so that a freed slot starts the next model's (single-threaded) build at once
        # instead of behind parts that the other threads would run meanwhile. None (-1)
        # stops a thread.
        self.tasks: queue.PriorityQueue[tuple[int, int, Callable[[], None] | None]] = (
            queue.PriorityQueue())
        self.order = itertools.count()
        self.next_model = 0
        self.active = 0  # models loaded and not done
        self.finished = threading.Event()

    def run(self) -> list[list[Any]]:
        threads = [threading.Thread(target=self._worker, name=f"mlscope-model-{i}",
                                    daemon=True) for i in range(self.workers)]
        for th in threads:
            th.start()
        try:
            with self.lock:
                for _ in range(self.workers):
                    self._start_next()
            self.finished.wait()  # every model's tasks ended, and none will queue another
        finally:
            for _ in threads:
                self._put(-1, None)
            for th in threads:
                th.join()
        if self.failures:
            raise self.failures[0]
        return self.results

    def _put(self, priority: int, task: Callable[[], None] | None) -> None:
        self.tasks.put((priority, next(self.order), task))

    def _start_next(self) -> None:
        # (Under the lock.) Queued by the thread that freed the slot, before it takes its
        # next task: that task is then this load.
        if not self.failures and self.next_model < self.n:
            mi = self.next_model
            self.next_model += 1
            self.active += 1
            self._put(0, functools.partial(self._run_load, mi))

    def _model_done(self, exc: BaseException | None = None) -> None:
        with self.lock:
            if exc is not None:
                self.failures.append(exc)
            self.active -= 1
            self._start_next()
            if self.active == 0:
                self.finished.set()

    def _run_part(self, mi: int, k: int, st: Any, left: list[int]) -> None:
        err: BaseException | None = None
        try:
            self.results[mi][k] = self.parts[k](mi, st)
        except BaseException as exc:  # handed to the caller by run()
            err = exc
        with self.lock:
            left[0] -= 1
            last = left[0] == 0
            if err is not None and not last:
                self.failures.append(err)
        if last:
            self._model_done(err)  # this model's statistics are no longer needed

    def _run_load(self, mi: int) -> None:
        try:
            st = self.load(mi)
        except BaseException as exc:
            self._model_done(exc)
            return
        if not self.parts:
            self._model_done()
            return
        left = [len(self.parts)]
        for k in range(len(self.parts)):
            self._put(1, functools.partial(self._run_part, mi, k, st, left))

    def _worker(self) -> None:
        while True:
            task = self.tasks.get()[2]
            if task is None:
                return
            task()  # catches its own errors
            # A part holds its model's statistics: not kept while waiting for the next task.
            del task
