"""``mesti spot``, ``mesti spot-eval`` and ``mesti synth --long`` from the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.synth.long import LongSynthResult

runner = CliRunner()
_PROGRESS_LINE = re.compile(r"[^:]+ \d+(/\d+)?( \(\d+ s\))?")


def _one_line_error(result: object, *parts: str) -> None:
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    # Off a terminal the progress bar is plain lines ("spot flow wall 0/20 (0 s)"); the error is the one other line.
    lines = [line for line in result.output.splitlines()  # type: ignore[attr-defined]
             if line.strip() and not _PROGRESS_LINE.fullmatch(line)]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output  # type: ignore[attr-defined]
    for part in parts:
        assert part in lines[0]


def test_spot_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, long_root: Path) -> None:
    out = tmp_path / "out"
    folder = long_root / "SAMM_longvideos" / "001_1"
    _one_line_error(runner.invoke(app, ["spot", str(folder), "--out", str(out)]), "--fps")
    fake = tmp_path / "clip.avi"
    fake.write_bytes(b"\x00" * 100)
    _one_line_error(runner.invoke(app, ["spot", str(fake), "--out", str(out)]), "clip.avi")
    _one_line_error(runner.invoke(app, ["spot", str(folder), "--fps", "30", "--method", "magic", "--out", str(out)]), "magic")
    assert not out.exists()


def test_spot_without_a_face_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "wall"
    folder.mkdir()
    for i in range(20):
        Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(folder / f"img{i}.png")
    # 20 frames are too short for flow's 4.2 s lag at 30 fps (issue 22 D22); at 4 fps they are 5 s
    _one_line_error(runner.invoke(app, ["spot", str(folder), "--fps", "4", "--out", str(tmp_path / "o")]), "no face found")
    assert not (tmp_path / "o").exists()


def test_spot_writes_intervals_and_plot(tmp_path: Path, long_root: Path) -> None:
    out = tmp_path / "out"
    folder = long_root / "SAMM_longvideos" / "002_1"
    result = runner.invoke(app, ["spot", str(folder), "--fps", "30", "--method", "naive", "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "intervals.json").read_text())
    assert doc["method"] == "naive" and doc["fps"] == 30.0 and doc["frames"] == 360
    assert (out / "score.png").read_bytes()[:4] == b"\x89PNG"
    rows = (out / "intervals.csv").read_text().splitlines()
    assert rows[0].startswith("video,onset,apex,offset,onset_s") and len(rows) == 1 + len(doc["intervals"])
    megc = (out / "megc" / "002_1.csv").read_text().splitlines()  # the MEGC per-video file (issue 20 item 5)
    assert megc[0] == "onset,offset,type,class" and megc[1:] == [f"{i['onset']},{i['offset']},{i['kind']}," for i in doc["intervals"]]
    again = runner.invoke(app, ["spot", str(folder), "--fps", "30", "--method", "naive", "--out", str(out)])
    assert again.exit_code == 2 and "--overwrite" in again.output
    listing = runner.invoke(app, ["spot", "list"])
    assert listing.exit_code == 0 and "flow" in listing.output and "lbp" in listing.output


def test_spot_eval_of_a_predictions_file(tmp_path: Path, long_set: LongSynthResult) -> None:
    preds = tmp_path / "preds.csv"
    e = long_set.videos[0].events[0]
    preds.write_text(f"video,onset,apex,offset,type,score\n001_1,{e.onset},{e.apex},{e.offset},{e.kind},1\n"
                     "002_1,0,1,2,micro,1\n")
    out = tmp_path / "eval"
    result = runner.invoke(app, ["spot-eval", "-d", "samm-long", "--root", str(long_set.path), "--opt", "fps=30",
                                 "--predictions", str(preds), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    n = sum(len(v.events) for v in long_set.videos)
    assert summary["scores"]["overall"]["tp"] == 1 and summary["scores"]["overall"]["fp"] == 1
    assert summary["scores"]["overall"]["fn"] == n - 1
    assert "IoU >= 0.5" in summary["protocol"]
    assert (out / "per_video.csv").read_text().count("\n") == 1 + 2 * 2
    both = runner.invoke(app, ["spot-eval", "-d", "samm-long", "--root", str(long_set.path), "--out", str(tmp_path / "x")])
    assert both.exit_code == 2


def test_synth_long_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = runner.invoke(app, ["synth", str(out), "--long", "--subjects", "1", "--videos-per-subject", "1",
                                 "--seconds", "5", "--size", "64", "--procedural-only"])
    assert result.exit_code == 0, result.output
    assert "samm-long" in result.output and (out / "SAMM_longvideos" / "001_1" / "001_1_00150.jpg").is_file()


def test_face_lost_for_a_stretch_is_a_warning_with_frame_ranges(tmp_path: Path, long_root: Path) -> None:
    src = long_root / "SAMM_longvideos" / "001_1"
    folder = tmp_path / "lost"
    folder.mkdir()
    for k, p in enumerate(sorted(src.iterdir())):
        if 100 <= k <= 140:
            Image.fromarray(np.full((96, 96, 3), 90, np.uint8)).save(folder / f"{p.stem}.png")
        else:
            Image.open(p).save(folder / f"{p.stem}.png")
    out = tmp_path / "o"
    result = runner.invoke(app, ["spot", str(folder), "--fps", "30", "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "intervals.json").read_text())
    assert doc["gaps"] and all(95 <= a <= b <= 150 for a, b in doc["gaps"])
    assert any(a <= 120 <= b for a, b in doc["gaps"])
    assert "warning:" in result.output and "no face in frames" in result.output


def test_overwrite_replaces_only_an_earlier_run(tmp_path: Path, long_root: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    folder = long_root / "SAMM_longvideos" / "001_1"
    result = runner.invoke(app, ["spot", str(folder), "--fps", "30", "-m", "naive", "--out", str(mine), "--overwrite"])
    assert result.exit_code == 2 and "refusing to overwrite" in result.output
    assert (mine / "thesis.tex").read_text() == "years of work"
    out = tmp_path / "run"
    for _ in range(2):
        result = runner.invoke(app, ["spot", str(folder), "--fps", "30", "-m", "naive", "--out", str(out), "--overwrite"])
        assert result.exit_code == 0, result.output


def test_a_long_valid_out_name_is_written_and_a_too_long_one_refused_first(tmp_path: Path, long_root: Path) -> None:
    """Issue 22 D28: a valid 250-character --out was refused only after all the spotting (its
    temporary sibling's name was too long)."""
    folder = long_root / "SAMM_longvideos" / "001_1"
    out = tmp_path / ("s" * 250)
    res = runner.invoke(app, ["spot", str(folder), "--fps", "30", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "intervals.json").is_file() and sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    too_long = tmp_path / ("t" * 256)
    res = runner.invoke(app, ["spot", str(folder), "--fps", "30", "--out", str(too_long)])
    _one_line_error(res, "256 bytes long", "--out")
    assert "spot flow" not in res.output  # refused before the spotting started
