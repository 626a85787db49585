from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mesti.utils.atomic import atomic_dir, atomic_path, write_json, write_npy, write_text


def test_writes_are_complete_and_readable_by_others(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        p = write_text(tmp_path / "a" / "x.txt", "hello")
    finally:
        os.umask(old)
    assert p.read_text() == "hello"
    assert p.stat().st_mode & 0o777 == 0o644
    write_npy(tmp_path / "x.npy", np.arange(3, dtype=np.float32))
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), [0, 1, 2])
    write_json(tmp_path / "x.json", {"b": 1, "a": [1, 2]})
    assert (tmp_path / "x.json").read_text().startswith('{\n  "a"')


def test_a_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_atomic_dir_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_dir(tmp_path / "set", "synthetic dataset") as d:
        (d / "a").write_text("1")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    old = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "set", "synthetic dataset") as d:
            (d / "a").write_text("1")
    finally:
        os.umask(old)
    assert (tmp_path / "set" / "a").read_text() == "1"
    assert (tmp_path / "set").stat().st_mode & 0o777 == 0o755
