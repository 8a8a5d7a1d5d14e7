"""``mlscope compare``: one pair of models, compared from the command line.

Kept out of :mod:`mlscope.cli` so that the command module stays a thin list of commands;
the evaluation, the terminal table and ``compare.json`` are put together here.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlscope.errors import InputError

__all__ = ["compare_command"]


def compare_command(charter: Path, model: str, reference: str, *, out: Path | None,
                    resamples: int | None, seed: int | None, mcnemar: str | None) -> None:
    """Evaluate the charter with the one pair ``model − reference``, print its table, and
    with ``out`` write ``out/compare.json`` atomically.

    Raises
    ------
    InputError
        A model compared with itself, an unknown model (with "did you mean"), a bad charter
        or data, or an ``out`` that cannot be written.
    """
    from mlscope.atomic import write_atomic
    from mlscope.engine.kernel_choice import kernel_setting
    from mlscope.evaluation import evaluate
    from mlscope.malloc import keep_freed_memory
    from mlscope.report.pairs import comparison_document, render_comparison

    if model == reference:
        # Refused before the evaluation: there is nothing to compute.
        raise InputError(f"compare: `{model}` is compared with itself; name two different "
                         "models")
    keep_freed_memory()  # a batch command: faster on large tables (mlscope.malloc)
    kernel_setting()  # a bad MLSCOPE_KERNEL is refused up front, whatever the task
    result = evaluate(charter, resamples=resamples, seed=seed, pairs=[(model, reference)],
                      mcnemar=mcnemar)
    cmp = result.comparisons[0]
    paths: dict[str, str] = {}
    if out is not None:
        text = json.dumps(comparison_document(result, cmp), indent=2, allow_nan=False,
                          default=str)
        target = out / "compare.json"
        try:
            out.mkdir(parents=True, exist_ok=True)
            write_atomic(target, text + "\n")  # a reader never sees half a file
        except OSError as exc:
            raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None
        paths["json"] = str(target)
    render_comparison(result, cmp, paths=paths)
