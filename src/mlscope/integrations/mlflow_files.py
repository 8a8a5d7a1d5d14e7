"""The predictions files of :mod:`mlscope.integrations.mlflow`: the artifact's format, its
conversion to Parquet, its columns, and the model name a run's file is saved under.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlscope.errors import InputError, did_you_mean

# Suffix → reader; a CSV is converted so that every imported file is Parquet.
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv",
           ".csv.gz": "csv", ".tsv.gz": "tsv"}


def format_of(artifact: str) -> str:
    lower = artifact.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if lower.endswith(suffix):
            return FORMATS[suffix]
    raise InputError(f"predictions_artifact `{artifact}` must be Parquet or CSV (ends with "
                     f"{', '.join(FORMATS)})")


def as_parquet(local: Path, fmt: str, where: str) -> Path:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if fmt == "parquet":
        return local
    delimiter = "\t" if fmt == "tsv" else ","
    try:
        table = pcsv.read_csv(local, parse_options=pcsv.ParseOptions(delimiter=delimiter))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{where} cannot be read as {fmt.upper()}: {exc}") from exc
    out = local.with_name(local.name.split(".", 1)[0] + ".converted.parquet")
    pq.write_table(table, out)
    return out


def check_columns(parquet: Path, where: str, *, id_column: str, score_column: str,
                  class_columns: dict[str, str] | None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        columns = list(pq.read_schema(parquet).names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{where} cannot be read as Parquet: {exc}") from exc
    needed = [("id column", id_column, "id_column")]
    if class_columns:
        needed += [(f"probability column for class `{c}`", col, "class_columns")
                   for c, col in class_columns.items()]
    else:
        needed.append(("score column", score_column, "score_column"))
    for what, column, option in needed:
        if column not in columns:
            raise InputError(f"{where} has no {what} `{column}`{did_you_mean(column, columns)}"
                             f" (columns: {', '.join(columns)}); pass {option} naming it")


def model_name(raw: str, taken: set[str]) -> str:
    """An identifier from a run name, unique among ``taken`` ignoring case (DuckDB does)."""
    base = re.sub(r"[^A-Za-z0-9_]+", "_", raw).strip("_") or "run"
    if base[0].isdigit():
        base = f"run_{base}"
    name, n = base, 2
    while name.lower() in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name.lower())
    return name
