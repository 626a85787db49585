"""Issue 22 D10 and D28: one writer per output folder (a lock file with the pid, dropped by the
kernel when its process dies), nothing replaced that appeared during a run, and names near the
file system's limit checked before the work, not after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesti.errors import MestiError
from mesti.utils.atomic import atomic_dir, write_text
from mesti.utils.outputs import lock_file, output_scope, prepare_new_dir, prepare_output_dir

SRC = str(Path(__file__).resolve().parents[2] / "src")

#: Another process that locks FOLDER as a KIND writer, says so, and waits for its stdin to close.
_HOLDER = """
import sys
from mesti.utils.outputs import prepare_output_dir
prepare_output_dir(sys.argv[1], sys.argv[2])
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder() -> Iterator[object]:
    """Start processes that hold a folder's lock; each is killed at the end."""
    procs: list[subprocess.Popen[str]] = []

    def start(folder: Path, kind: str = "run") -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
        proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(folder), kind], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, env=env)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_a_second_writer_is_refused_naming_the_first(tmp_path: Path, holder) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    proc = holder(out)
    for attempt in (lambda: prepare_output_dir(out, "run"), lambda: prepare_output_dir(out, "run", overwrite=True),
                    lambda: prepare_new_dir(out, "bundle")):
        with pytest.raises(MestiError, match=f"another mesti process is writing here \\(pid {proc.pid}: python "):
            attempt()
    with pytest.raises(MestiError, match="another mesti process"), atomic_dir(out, "analysis") as tmp:
        (tmp / "x").write_text("never")
    assert not out.exists() or not any(out.iterdir())
    assert [p.name for p in tmp_path.iterdir()] == [".run.mesti-lock"]  # the holder's, and no temporary


def test_a_killed_writer_leaves_no_stale_lock(tmp_path: Path, holder) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    proc = holder(out)
    os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up: its lock file stays, unlocked
    proc.wait()
    assert lock_file(out).is_file()
    with output_scope():
        assert prepare_output_dir(out, "run") == out
        assert str(os.getpid()) in lock_file(out).read_text()
    assert not lock_file(out).exists()  # given back, and removed, at the end of the scope


def test_a_lock_is_given_back_at_the_end_of_its_scope(tmp_path: Path, holder) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "grid"
    with output_scope():
        prepare_output_dir(out, "grid")
        prepare_output_dir(out, "grid")  # the same process again: allowed
    holder(out, "grid")  # another process may take it now
    with pytest.raises(MestiError, match="another mesti process"):
        prepare_output_dir(out, "grid")


def test_a_refused_folder_keeps_no_lock(tmp_path: Path) -> None:
    out = tmp_path / "k"
    out.mkdir()
    (out / "mine.txt").write_text("x")
    with pytest.raises(MestiError, match="not a mesti output"):
        prepare_output_dir(out, "run")  # outside any scope: a lock kept now would last until this process ends
    assert not lock_file(out).exists()


def test_files_put_into_the_folder_during_the_run_are_never_deleted(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    with pytest.raises(MestiError, match="put there while this ran"), atomic_dir(out, "bundle") as tmp:
        (tmp / "bundle.json").write_text("{}")
        out.mkdir()
        (out / "notes.txt").write_text("mine")  # someone writes into --out while the bundle trains
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_a_folder_that_is_not_of_its_kind_is_never_replaced_by_an_atomic_write(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    with pytest.raises(MestiError, match="not a mesti output"), atomic_dir(out, "analysis") as tmp:
        (tmp / "report.html").write_text("x")
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


def test_a_name_near_the_limit_is_written_and_one_over_it_refused_first(tmp_path: Path) -> None:
    long = tmp_path / ("a" * 250)  # valid: 250 bytes; ".<name>.XXXXXXXX.tmp" would not be
    with atomic_dir(long, "analysis") as tmp:
        (tmp / "intervals.json").write_text("{}")
        (tmp / "report.html").write_text("x")
    assert (long / "report.html").is_file()
    write_text(tmp_path / ("b" * 250 + ".txt"), "x")
    assert (tmp_path / ("b" * 250 + ".txt")).read_text() == "x"
    with pytest.raises(MestiError, match="256 bytes long"):
        prepare_new_dir(tmp_path / ("c" * 256), "analysis")
    assert sorted(len(p.name) for p in tmp_path.iterdir()) == [250, 254]  # no lock or temporary left


def test_a_users_file_with_the_lock_files_name_is_neither_written_nor_removed(tmp_path: Path) -> None:
    mine = tmp_path / ".run.mesti-lock"
    mine.write_text("my notes, oddly named")
    with pytest.raises(MestiError, match="mesti did not write it"):
        prepare_output_dir(tmp_path / "run", "run")
    assert mine.read_text() == "my notes, oddly named"
