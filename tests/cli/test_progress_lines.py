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


def test_the_console_hook_shows_stages_folds_and_epochs_as_lines(tmp_path: Path) -> None:
    from mesti.cli.common import ConsoleHooks

    log = tmp_path / "log.txt"
    with open(log, "w") as fh:
        bar = LineProgress(Console(file=fh), interval=3600)
        with bar:
            hooks = ConsoleHooks(bar)
            hooks.stage_started("prepare wait", None, "waiting for another mesti process")
            hooks.stage_ended("prepare wait")
            hooks.stage_started("prepare", 2, "preparing")
            hooks.stage_advanced("prepare", 1, 2)
            hooks.stage_advanced("prepare", 2, 2)
            hooks.line("folds", "folds")
            hooks.line("epochs", "epochs", 2)
            for fold in ("s1", "s2"):
                hooks.fold_started(fold, int(fold[1]) - 1, 2)
                hooks.epoch_ended(1, 2, {"train_loss": 0.5})
                hooks.epoch_ended(2, 2, {"train_loss": 0.25})
            hooks.finish("folds")
            hooks.stage_advanced("cells", 1, 3, "cell apex meganet")  # not declared: a line of its own
        assert [t.description for t in bar.tasks] == ["preparing", "fold s2", "epoch 2/2 loss 0.250", "cell apex meganet"]
    lines = [line.split(" (")[0] for line in log.read_text().splitlines()]
    assert lines == ["waiting for another mesti process 0", "preparing 0/2", "preparing 2/2", "folds 0", "epochs 0/2",
                     "fold s1 0/2", "epoch 1/2 loss 0.500 1/2", "epoch 2/2 loss 0.250 2/2", "fold s2 1/2",
                     "epoch 1/2 loss 0.500 1/2", "epoch 2/2 loss 0.250 2/2", "fold s2 2/2", "cell apex meganet 1/3"]
