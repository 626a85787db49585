"""Every shipped study of the paper runs end to end on tiny synthetic stand-ins, and the report
puts the paper's figures beside ours. Tiny settings: 16 px, one epoch, one network per part."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from mesti.paper import Reduction, list_studies, load_paper_results, load_study, run_study
from mesti.paper.compare import compare, write_paper_report
from tests.paper.conftest import TINY

runner = CliRunner()


def _run(name: str, standins: dict[str, Path], out: Path, **reduce: object) -> list[dict]:  # type: ignore[type-arg]
    roots = {k: standins[k] for k in ("casme2", "samm", "smic")}
    reduction = Reduction(**{**TINY, "cache": str(standins["cache"]), **reduce})  # type: ignore[arg-type]
    return run_study(name, roots, out, reduction, clip_list=standins["list"])


def test_paper_figures_are_shipped_as_data() -> None:
    df = load_paper_results()
    assert len(df) == 89
    # Spot checks against the paper as printed.
    t1 = df[(df.table == "table1") & (df.modality == "mesti") & (df.model == "vgg19")].set_index("dataset")
    assert t1.loc["casme2", "printed"] == "73.08" and t1.loc["samm", "printed"] == "62.50"
    smic = df[(df.table == "table3") & (df.dataset == "smic")].set_index("metric")
    assert smic.loc["uf1", "value"] == pytest.approx(0.917) and smic.loc["accuracy", "printed"] == "0.9268"
    assert set(df.table) == {f"table{i}" for i in range(1, 7)}
    assert df.value.between(0, 1).all()
    # Table I percentages are k/26 (CASME II) and k/16 (SAMM), except the active image row.
    for r in df[(df.table == "table1") & (df.modality != "active_image")].itertuples():
        n = 26 if r.dataset == "casme2" else 16
        assert abs(r.value * n - round(r.value * n)) < 0.01, (r.row, r.dataset)


def test_every_study_is_listed_with_its_roots() -> None:
    studies = {s.name: s for s in list_studies()}
    assert list(studies) == ["table1", "table2", "table3", "table4", "table5", "table6", "composite", "cross"]
    assert studies["table1"].roots == ["casme2", "samm"] and studies["table5"].roots == ["smic"]
    assert studies["table3"].roots == ["casme2", "samm", "smic"]
    table1 = load_study("table1").documents
    assert [d["protocols"][0]["test_size"] for d in table1] == [26, 16] and table1[1]["datasets"][0]["merge_other"]
    res = runner.invoke(app, ["paper", "list"])
    assert res.exit_code == 0 and "table6" in res.output and "--smic" in res.output


def test_bad_input_is_one_line(standins: dict[str, Path], tmp_path: Path) -> None:
    res = runner.invoke(app, ["paper", "run", "table9", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "no such study" in res.output
    res = runner.invoke(app, ["paper", "run", "table1", "--casme2", str(standins["casme2"]), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "--samm" in res.output
    assert not (tmp_path / "r").exists()  # nothing half-written
    res = runner.invoke(app, ["paper", "run", "table5", "--smic", str(standins["smic"]), "--models", "vgg19",
                              "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "vgg19 not in study table5" in res.output
    res = runner.invoke(app, ["paper", "report", str(tmp_path / "empty")])
    assert res.exit_code == 2 and "no study runs" in res.output


def test_table1_and_table2(holdout_standins: dict[str, Path], standins: dict[str, Path], tmp_path: Path) -> None:
    rows = _run("table1", holdout_standins, tmp_path, models=("efficientnet_b0",), modalities=("active_image",))
    assert [(r["dataset"], r["n"]) for r in rows] == [("casme2 (5 classes)", 26), ("samm (5 classes)", 16)]
    assert all("SUBJECTS APPEAR IN BOTH" in r["protocol"] for r in rows)
    # Table II with Micro-Attention's own recipe (random crops), two seeds and the leaky oracle beside
    rows = _run("table2", standins, tmp_path, models=("micro_attention",), modalities=("mesti",), recipe="native",
                seeds=(0, 1), report_oracle=True)
    assert len(rows) == 2 and all("LOSO" in r["protocol"] and "2 seeds" in r["protocol"] for r in rows)
    assert not (tmp_path / "table2" / "part2.yaml").exists()  # the VGG19 part was reduced away
    part = yaml.safe_load((tmp_path / "table2" / "part1.yaml").read_text())
    assert part["training"]["recipe"] == "native" and part["seeds"] == [0, 1] and part["report_oracle"] is True
    cell = next((tmp_path / "table2" / "part1").rglob("seed-1/config.yaml"))
    training = yaml.safe_load(cell.read_text())["training"]
    assert (training["crop"], training["flip"], training["report_oracle"]) == (224 / 240, False, True)
    with pytest.raises(MestiError, match="no network of table5 has a published recipe"):
        _run("table5", standins, tmp_path / "native", recipe="native")
    report = compare(tmp_path)
    t2 = [r for r in report if r["study"] == "table2" and r["ours"] is not None]
    assert {(r["dataset"], r["metric"]) for r in t2} == {("casme2", "accuracy"), ("samm", "accuracy")}  # as printed
    for r in t2:  # the spread over seeds; the oracle's mean accuracy over seeds never below the honest mean
        assert r["ours_sd"] is not None and r["oracle_leaky"] is not None
        assert r["metric"] != "accuracy" or r["oracle_leaky"] >= r["ours"] - 1e-9
    md = (write_paper_report(tmp_path)).read_text()
    assert "oracle (leaky)" in md and "best epoch chosen on the test subject" in md and " +- " in md
    assert "native recipe, seeds 0, 1" in md
    t1 = [r for r in report if r["study"] == "table1"]
    mine = [r for r in t1 if r["ours"] is not None]
    assert {(r["dataset"], r["model"], r["modality"]) for r in mine} == {("casme2", "efficientnet_b0", "active_image"),
                                                                        ("samm", "efficientnet_b0", "active_image")}
    for r in mine:
        assert r["difference"] == pytest.approx(r["ours"] - r["paper"]) and r["paper_protocol"] and r["our_protocol"]
    affective = [r for r in t1 if r["modality"] == "affective_motion"]
    assert len(affective) == 6 and all(r["why"] == "no public definition" for r in affective)


def test_loso_tables_run_and_report_through_the_cli(standins: dict[str, Path], tmp_path: Path) -> None:
    assert len(_run("table3", standins, tmp_path)) == 3
    assert len(_run("table4", standins, tmp_path)) == 2
    assert len(_run("table6", standins, tmp_path, models=("meganet_b2",))) == 1
    args = ["paper", "run", "table5", "--smic", str(standins["smic"]), "--clip-list", str(standins["list"]),
            "--models", "meganet_ga", "--out", str(tmp_path), "--cache", str(standins["cache"]),
            *[f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    again = runner.invoke(app, args)  # resumable: finished cells are skipped, same figures
    assert again.exit_code == 0 and "meganet_ga" in again.output
    changed = runner.invoke(app, [a if not a.startswith("--epochs") else "--epochs=2" for a in args])
    assert changed.exit_code == 2 and "other settings" in changed.output and "training" in changed.output
    res = runner.invoke(app, ["paper", "report", str(tmp_path)])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "paper_report.md").read_text()
    for title in ("Table III", "Table IV", "Table V", "Table VI"):
        assert title in text
    assert "| 3-class SMIC-HS | smic (3 cl.) | meganet | mesti | UF1 | 0.917 |" in text
    assert "0.9268" in text and "leave-one-subject-out" in text
    assert (tmp_path / "paper_report.png").stat().st_size > 0
    table = pd.read_csv(tmp_path / "paper_report.csv")
    ran = table[(table.study == "table5") & table.ours.notna()]
    assert set(ran.model) == {"meganet_ga"} and len(ran) == 3
    metrics = json.loads(next((tmp_path / "table5").rglob("metrics.json")).read_text())
    assert ran[ran.metric == "uf1"].ours.iloc[0] == pytest.approx(metrics["uf1"])


def test_composite_and_cross(standins: dict[str, Path], tmp_path: Path) -> None:
    rows = _run("composite", standins, tmp_path)
    assert len(rows) == 1 and rows[0]["n"] == 3 * 18, rows[0].get("error")
    rows = _run("cross", standins, tmp_path)
    assert len(rows) == 6 and all("cross-dataset" in r["protocol"] for r in rows)
    report = compare(tmp_path)
    assert all(r["paper"] is None and r["why"] == "the paper prints no figure" for r in report)


def test_standins_read_as_their_datasets(standins: dict[str, Path]) -> None:
    samm = create_dataset("samm", standins["samm"], classes=5)
    assert {r.label for r in samm.records()} == {"anger", "happiness", "surprise"}
    smic = create_dataset("smic", standins["smic"], sheet=standins["smic"] / "clip_list.csv")
    assert len(smic.records()) == 18 and {r.label for r in smic.records()} == {"negative", "positive", "surprise"}
    resolved = yaml.safe_dump(load_study("table5").documents[0])
    assert "{smic}" in resolved
    with pytest.raises(MestiError, match="--smic"):
        run_study("table5", {"smic": None}, standins["cache"].parent / "nowhere")


def test_a_wrong_dataset_root_is_named_not_an_empty_cache(tmp_path: Path) -> None:
    """Issue 22 D20: every cell failed with "the mesti cache holds no images"."""
    wrong = tmp_path / "Downloads"
    wrong.mkdir()
    (wrong / "readme.txt").write_text("not SMIC")
    res = runner.invoke(app, ["paper", "run", "table5", "--smic", str(wrong), "--out", str(tmp_path / "runs"),
                              "--epochs", "1", "--img-size", "16", "--size", "16", "--face", "none",
                              "--models", "meganet", "--cache", str(tmp_path / "cache")])
    assert res.exit_code == 1, res.output
    assert f"{wrong}: none of the" in res.stderr and "is it the smic folder?" in res.stderr, res.stderr
    assert "holds no images" not in res.stderr
