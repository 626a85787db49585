"""Issue 16 item 12: a long command whose output goes to a file prints plain progress lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rich.console import Console

from mesti.cli.common import LineProgress


def test_line_progress_says_starts_changes_and_ends(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    with open(log, "w") as fh:
        bar = LineProgress(Console(file=fh), interval=3600)
        with bar:
            task = bar.add_task("preparing", total=4)
            for _ in range(4):
                bar.advance(task)  # only the end is said: the interval is long
            grid = bar.add_task("grid", total=None)
            bar.update(grid, total=2, completed=0, description="cell apex meganet")
            bar.update(grid, completed=1, description="cell mesti meganet")
            bar.update(grid, completed=2)
            bar.update(grid, completed=2)  # said once
    lines = [line.split(" (")[0] for line in log.read_text().splitlines()]
    assert lines == ["preparing 0/4", "preparing 4/4", "grid 0", "cell apex meganet 0/2", "cell mesti meganet 1/2",
                     "cell mesti meganet 2/2"]


def test_a_redirected_command_prints_progress_lines(tmp_path: Path) -> None:
    out = tmp_path / "set"
    res = subprocess.run([sys.executable, "-m", "mesti", "synth", str(out), "-n", "1", "-k", "2", "--size", "32",
                          "--procedural-only"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"synth {out.name} 2/2" in res.stderr  # the bar is invisible off a terminal; these lines are not
