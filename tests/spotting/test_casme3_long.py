"""``mesti spot-eval --dataset casme3``: the synthetic long videos laid out as CAS(ME)^3 part A,
their expressions in the all-expression sheet and their blinks in the eye-blink sheet."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.synth.long import LongSynthResult
from tests.datasets.casme3_tree import write_long_sheet, write_me_sheet

runner = CliRunner()


@pytest.fixture(scope="module")
def casme3_long(long_set: LongSynthResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``spNO.<n>/a/color/<k>.jpg`` (1-based, hard links to the synthetic frames) and the sheets."""
    root = tmp_path_factory.mktemp("casme3_long") / "CASME3"
    rows, blinks, micro = [], [], []
    for spec in long_set.videos:
        subject = f"spNO.{int(spec.subject)}"
        color = root / subject / "a" / "color"
        color.mkdir(parents=True)
        for k in range(1, spec.frames + 1):
            os.link(long_set.path / "SAMM_longvideos" / spec.video / f"{spec.video}_{k:05d}.jpg", color / f"{k}.jpg")
        for e in spec.events:
            kind = "Micro-expression" if e.kind == "micro" else "Macro-expression"
            rows.append((subject, "a", e.onset + 1, e.apex + 1, e.offset + 1, kind))
            if e.kind == "micro":
                micro.append((subject, "a", e.onset + 1, e.apex + 1, e.offset + 1, e.emotion))
        blinks += [(subject, "a", b.start + 1, b.start + b.frames) for b in spec.blinks]
    write_long_sheet(root / "CAS(ME)3_part_A_v2.xlsx", rows, blinks)
    write_me_sheet(root / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", micro)
    return root


def test_spot_eval_scores_the_long_view(casme3_long: Path, long_set: LongSynthResult, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = runner.invoke(app, ["spot-eval", "-d", "casme3", "--root", str(casme3_long), "--method", "flow", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"] == "casme3" and "2 videos of 2 subjects" in summary["protocol"]
    truth = sum(len(v.events) for v in long_set.videos)
    overall = summary["scores"]["overall"]
    assert overall["tp"] + overall["fn"] == truth
    assert summary["blinks"]["labelled"] == sum(len(v.blinks) for v in long_set.videos) > 0
    assert "labelled blinks (negatives, not counted as truth)" in result.output
    with open(out / "predictions.csv", newline="") as fh:
        named = {r["video"] for r in csv.DictReader(fh)}
    assert named and named <= {"spNO.1_a", "spNO.2_a"}  # the video ids, not the folder name 'color'
    # The written predictions read back as predictions score the same.
    again = runner.invoke(app, ["spot-eval", "-d", "casme3", "--root", str(casme3_long), "--predictions",
                                str(out / "predictions.csv"), "--out", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "again" / "summary.json").read_text())["scores"] == summary["scores"]


def test_a_blink_spotted_is_a_false_positive_counted_apart(casme3_long: Path, long_set: LongSynthResult,
                                                           tmp_path: Path) -> None:
    spec = long_set.videos[0]
    e, b = spec.events[0], spec.blinks[0]
    preds = tmp_path / "preds.csv"
    preds.write_text("video,onset,apex,offset,type\n"
                     f"spNO.{int(spec.subject)}_a,{e.onset},{e.apex},{e.offset},{e.kind}\n"
                     f"spNO.{int(spec.subject)}_a,{b.start},{b.start + 1},{b.start + b.frames - 1},micro\n")
    out = tmp_path / "eval"
    result = runner.invoke(app, ["spot-eval", "-d", "casme3", "--root", str(casme3_long), "--predictions", str(preds),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["scores"]["overall"]["tp"], summary["scores"]["overall"]["fp"]) == (1, 1)
    assert summary["blinks"]["spotted_as_expression"] == 1
