"""`mlscope validate` opens the data (unless --no-data) and reports every data problem at
once, each at its charter line with the fix; exit 2, no traceback, nothing written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml
from click.testing import CliRunner

from mlscope.cli import main
from tests.conftest import base_charter, binary_frame


def _line_of(cpath: Path, text: str) -> int:
    lines = cpath.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def _validate(cpath: Path, *extra: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["validate", str(cpath), *extra])
    assert "Traceback" not in r.output
    return r.exit_code, r.output


def test_good_data_is_summarised(project: Callable[..., Path]) -> None:
    code, out = _validate(project())
    assert code == 0, out
    assert "✓ charter " in out
    assert "is valid" in out
    assert "✓ data: 600 rows, splits " in out
    assert "3 model(s): good, fair, weak" in out


def test_every_missing_column_at_once_at_its_line(project: Callable[..., Path]) -> None:
    ch = base_charter()
    ch["data"]["label"] = "lable"
    ch["data"]["models"]["fair"] = "p_fiar"
    ch["slices"]["columns"] = ["region", "devise"]
    ch["slices"]["crosses"] = [["region", "device"]]
    cpath = project(charter=ch)
    before = {p: p.read_bytes() for p in cpath.parent.iterdir() if p.is_file()}
    code, out = _validate(cpath)
    assert code == 2
    assert "3 data problem(s)" in out
    text = " ".join(out.split())
    assert (f"{cpath}:{_line_of(cpath, 'label: lable')}: data.label: column `lable` (label) "
            "is not in eval.parquet; did you mean `label`?") in text
    assert f":{_line_of(cpath, 'fair: p_fiar')}: data.models.fair: column `p_fiar`" in text
    assert "slices.columns[1]: column `devise` (slice)" in text
    # In the charter's order.
    assert text.index("data.label:") < text.index("data.models.fair:") < \
        text.index("slices.columns[1]:")
    assert "Fix: name one of its columns:" in text
    # Validation writes nothing.
    assert {p: p.read_bytes() for p in cpath.parent.iterdir() if p.is_file()} == before
    # Without --data only the charter is checked.
    code, out = _validate(cpath, "--no-data")
    assert code == 0, out
    assert "data:" not in out


def test_positive_not_a_value_names_the_key_and_the_fix(project: Callable[..., Path]) -> None:
    df = binary_frame()
    df["label"] = df["label"].map({0: "B", 1: "M"})
    ch = base_charter()
    ch["data"]["positive"] = 1
    cpath = project(df, ch)
    code, out = _validate(cpath)
    assert code == 2
    text = " ".join(out.split())
    assert f":{_line_of(cpath, 'positive: 1')}: data.positive: " in text
    assert "data.positive is 1 but column `label` holds 'B', 'M'" in text
    assert "Fix: set `data.positive` to the value that marks a positive case, one of 'B', " \
        "'M'" in text


def test_a_missing_file_is_reported_at_its_key(tmp_path: Path) -> None:
    ch = base_charter("nowhere.parquet")
    cpath = tmp_path / "mlscope.yaml"
    cpath.write_text(yaml.safe_dump(ch, sort_keys=False), encoding="utf-8")
    code, out = _validate(cpath)
    assert code == 2
    text = " ".join(out.split())
    assert f":{_line_of(cpath, 'table: nowhere.parquet')}: data.table: data file not found" \
        in text
