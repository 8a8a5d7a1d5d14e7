"""A label or score column read as text (a CSV that writes missing values `NA`, as R
does) is settled before any cast (found on ISLP's Hitters, whose salaries are `NA` for 59
players): `NA` and the like are missing values, reported by the missing-value checks with
a row id; other text is an error naming the column, a value, its row and the fix, where a
conversion error with its value hidden was raised before. Generated data (seeded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from mlscope.cli import main
from tests.conftest import base_charter, binary_frame


def _regression(n: int = 300, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({"row_id": np.arange(n), "y": 3 * x + rng.normal(size=n),
                         "pred_a": 3 * x, "pred_b": 2 * x,
                         "split": rng.choice(["validation", "test"], n)})


def _write(tmp_path: Path, df: pd.DataFrame, ch: dict[str, object]) -> Path:
    df.to_csv(tmp_path / "eval.csv", index=False, na_rep="NA")
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
    return path


def _regression_charter() -> dict[str, object]:
    return {"project": "t", "task": "regression",
            "data": {"table": "eval.csv", "id": "row_id", "label": "y", "split": "split",
                     "models": {"a": "pred_a", "b": "pred_b"}},
            "splits": {"selection": "validation", "report": "test"},
            "metrics": ["rmse", "mae"], "selection": {"rule": "satisficing",
                                                      "optimize": "rmse"}}


def _run(path: Path) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["run", str(path), "--resamples", "0", "--no-store",
                                  "--out", str(path.parent / "out")])
    return r.exit_code, r.output


def test_na_labels_are_missing_values_with_a_row_id(tmp_path: Path) -> None:
    df = _regression()
    df.loc[[3, 7], "y"] = np.nan  # written NA
    code, out = _run(_write(tmp_path, df, _regression_charter()))
    assert code == 2, out
    assert "label is missing, NaN or infinite in 2 of 300 rows (e.g. row id 3" in out
    assert "Conversion Error" not in out
    assert "'…'" not in out


def test_other_text_in_a_label_names_the_value_row_and_fix(tmp_path: Path) -> None:
    df = _regression().astype({"y": object})
    df.loc[5, "y"] = "n.a."
    code, out = _run(_write(tmp_path, df, _regression_charter()))
    assert code == 2, out
    assert ("eval.csv: column `y` (label) must hold numbers, but 1 value(s) are text, "
            "e.g. 'n.a.', row id 5. Fix: write numbers only") in out


def test_na_scores_are_missing_scores(tmp_path: Path) -> None:
    df = binary_frame(n=300, seed=6)
    df.loc[[10, 11, 12], "p_good"] = np.nan
    code, out = _run(_write(tmp_path, df, base_charter(table="eval.csv")))
    assert code == 2, out
    assert "model `good` score is missing, NaN or infinite in 3 of 300 rows" in out


def test_text_in_a_score_names_the_model(tmp_path: Path) -> None:
    df = binary_frame(n=300, seed=6).astype({"p_fair": object})
    df.loc[20, "p_fair"] = "oops"
    code, out = _run(_write(tmp_path, df, base_charter(table="eval.csv")))
    assert code == 2, out
    assert "column `p_fair` (scores of model `fair`) must hold numbers" in out
    assert "'oops'" in out


def test_init_proposes_a_regression_with_na_labels_and_reports_them(tmp_path: Path) -> None:
    """`mlscope init` reads NA as missing (a number column, so a regression), and checks
    the data as `validate` does: exit 2 and the rows to fix, not "valid" then a failed run."""
    df = _regression()
    df.loc[[3, 7], "y"] = np.nan
    df.to_csv(tmp_path / "eval.csv", index=False, na_rep="NA")
    r = CliRunner().invoke(main, ["init", str(tmp_path / "eval.csv"), "--label", "y", "--yes",
                                  "--out", str(tmp_path / "mlscope.yaml")])
    assert r.exit_code == 2, r.output
    assert "regression" in r.output
    assert "label is missing" in r.output
    assert "fix the data" in r.output
    doc = yaml.safe_load((tmp_path / "mlscope.yaml").read_text())
    assert doc["task"] == "regression"


@pytest.mark.parametrize("word", ["NA", "N/A", "nan", "NULL", "None", "-"])
def test_missing_words(tmp_path: Path, word: str) -> None:
    df = _regression().astype({"y": object})
    df.loc[9, "y"] = word
    df.to_csv(tmp_path / "eval.csv", index=False)
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(_regression_charter(), sort_keys=False), encoding="utf-8")
    code, out = _run(path)
    assert code == 2, out
    assert "label is missing, NaN or infinite in 1 of 300 rows (e.g. row id 9" in out


def test_na_past_the_sniffed_sample_names_line_and_column(tmp_path: Path) -> None:
    """A gzipped CSV is sniffed from its first rows only: an NA after them fails the
    column's guessed type. The error names the line and the column, and the fix; not the
    value (readers' values stay out of CI logs)."""
    df = _regression(n=30_000, seed=8).astype({"y": object})
    df.loc[29_990, "y"] = "NA"
    df.to_csv(tmp_path / "eval.csv.gz", index=False)
    ch = _regression_charter()
    ch["data"]["table"] = "eval.csv.gz"  # type: ignore[index]
    path = tmp_path / "mlscope.yaml"
    path.write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
    code, out = _run(path)
    assert code == 2, out
    assert "cannot read eval.csv.gz: line 29992: a value of column `y` is not a DOUBLE" in out
    assert "write missing values as empty fields" in out
