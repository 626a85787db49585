"""Every shipped study of the paper runs end to end on tiny synthetic stand-ins, and the report
puts the paper's figures beside ours. Tiny settings: 16 px, one epoch, one network per part."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from mesti.paper import Reduction, list_studies, load_paper_results, load_study, run_study
from mesti.paper.compare import compare, data_of, write_paper_report
from mesti.paper.studies import resolve_study
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
    assert smic.loc["uf1", "value"] == pytest.approx(0.917) and smic.loc["accuracy", "printed"] == "92.68"
    assert set(df.table) == {f"table{i}" for i in range(1, 7)}
    assert df.value.between(0, 1).all()
    # Table I percentages are k/26 (CASME II) and k/16 (SAMM), except the active image row.
    for r in df[(df.table == "table1") & (df.modality != "active_image")].itertuples():
        n = 26 if r.dataset == "casme2" else 16
        assert abs(r.value * n - round(r.value * n)) < 0.01, (r.row, r.dataset)


def test_every_printed_figure_is_its_value_in_the_rows_unit() -> None:
    # The text as printed (92.68, not 0.9268), and one unit per row: percent or a fraction.
    df = load_paper_results()
    assert set(df.unit) == {"%", "fraction"}
    for r in df.itertuples():
        decimals = len(r.printed.partition(".")[2])
        in_unit = r.value * 100 if r.unit == "%" else r.value
        assert round(in_unit, decimals) == pytest.approx(float(r.printed)), (r.table, r.row, r.metric, r.printed)
        assert r.unit == "fraction" or r.metric == "accuracy"
    printed = df[df.metric == "accuracy"].set_index(["table", "dataset"]).printed
    assert (printed[("table3", "smic")], printed[("table4", "casme2")], printed[("table4", "samm")]) == ("92.68", "82.04", "80.88")


def _fits(percent: float, decimals: int, n: int) -> bool:
    return any(round(100 * k / n, decimals) == percent for k in range(n + 1))


def test_the_sample_count_arithmetic_of_the_notes_and_the_docs_holds() -> None:
    df = load_paper_results()
    claims = 0
    for r in df.itertuples():
        decimals = len(r.printed.partition(".")[2])
        for pct, k, n in re.findall(r"(\d+\.\d+)% (?:=|fits) (\d+)/(\d+)", r.note):
            assert round(100 * int(k) / int(n), len(pct.partition(".")[2])) == float(pct), r.note
            claims += 1
        if r.unit == "%":
            for n in re.findall(r"(?<!no )(?:fits|test set) k/(\d+)", r.note):
                assert _fits(float(r.printed), decimals, int(n)), (r.row, r.dataset, r.note)
                claims += 1
            for n in re.findall(r"fits no k/(\d+)", r.note):
                assert not _fits(float(r.printed), decimals, int(n)), (r.row, r.dataset, r.note)
                claims += 1
    assert claims >= 50  # every Table I-IV note makes one
    # Table II's quoted figures come from other studies' own sets: 65.9 is no k/245, 43.23 no k/136.
    quoted = df[(df.table == "table2") & (df.quoted_from != "")]
    assert set(quoted.printed) == {"65.9", "48.5", "51.02", "43.23"}
    assert not _fits(65.9, 1, 245) and not _fits(43.23, 2, 136)
    protocols = (Path(__file__).parents[2] / "docs" / "protocols.md").read_text(encoding="utf-8")
    for pct, k, n in re.findall(r"(\d+\.\d+)%? = (\d+)/(\d+)", protocols):
        assert round(100 * int(k) / int(n), len(pct.partition(".")[2])) == float(pct), (pct, k, n)
    assert "CASME II k/245, SAMM k/136" not in protocols and "65.9" in protocols and "43.23" in protocols


def test_every_study_is_listed_with_its_roots() -> None:
    studies = {s.name: s for s in list_studies()}
    assert list(studies) == ["table1", "table2", "table3", "table4", "table5", "table6", "meganet_di", "composite", "cross"]
    assert studies["table1"].roots == ["casme2", "samm"] and studies["table5"].roots == ["smic"]
    assert studies["table3"].roots == ["casme2", "samm", "smic"]
    table1 = load_study("table1").documents
    assert [d["protocols"][0]["test_size"] for d in table1] == [26, 16] and table1[1]["datasets"][0]["merge_other"]
    seven = ["apex", "flow_onset_apex", "flow_apex_offset", "dynamic_image", "mesti", "affective_motion", "active_image"]
    assert all(d["modalities"] == seven for d in table1)
    di = studies["meganet_di"]
    assert di.figures == ("table3", "table4") and di.roots == ["casme2", "samm", "smic"]
    assert all(d["modalities"] == ["mesti", "dynamic_image"] and d["models"] == ["meganet"] for d in di.documents)
    assert [d["protocols"] for d in di.documents] == [[{"name": "loso"}]] * 2
    assert [[(x["name"], x["classes"]) for x in d["datasets"]] for d in di.documents] == [
        [(x["name"], x["classes"]) for x in load_study(t).documents[0]["datasets"]] for t in ("table3", "table4")]
    res = runner.invoke(app, ["paper", "list"], env={"COLUMNS": "600"})
    assert res.exit_code == 0 and "table6" in res.output and "--smic" in res.output and "meganet_di" in res.output
    line = next(x for x in res.output.splitlines() if "table1" in x)
    assert all(m in line for m in seven) and "affective_motion" in line


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
    rows = _run("table1", holdout_standins, tmp_path, models=("efficientnet_b0",), modalities=("affective_motion", "active_image"))
    assert [(r["dataset"], r["n"]) for r in rows] == [("casme2 (5 classes)", 26)] * 2 + [("samm (5 classes)", 16)] * 2
    assert all("SUBJECTS APPEAR IN BOTH" in r["protocol"] for r in rows)
    # Table II by default trains each network with its own recipe, as the paper says it ran them;
    # Micro-Attention's: random 224 crops of a 240 resize, batch 10, cross-entropy. Two seeds, the oracle beside.
    rows = _run("table2", standins, tmp_path, models=("micro_attention",), modalities=("mesti",),
                seeds=(0, 1), report_oracle=True)
    assert len(rows) == 2 and all("LOSO" in r["protocol"] and "2 seeds" in r["protocol"] for r in rows)
    assert not (tmp_path / "table2" / "part2.yaml").exists()  # the VGG19 part was reduced away
    part = yaml.safe_load((tmp_path / "table2" / "part1.yaml").read_text())
    assert part["training"]["recipe"] == "native" and part["seeds"] == [0, 1] and part["report_oracle"] is True
    cell = next((tmp_path / "table2" / "part1").rglob("seed-1/config.yaml"))
    training = yaml.safe_load(cell.read_text())["training"]
    assert (training["crop"], training["flip"], training["report_oracle"]) == (224 / 240, False, True)
    assert (training["batch_size"], training["loss"], training["recipe"]) == (16, "cross_entropy", "native")  # TINY's batch wins
    roots = {k: standins[k] for k in ("casme2", "samm")}
    vgg = resolve_study(load_study("table2"), roots, Reduction())[1]["training"]
    assert vgg == {"recipe": "native"}  # VGG19: LEARNet's recipe, every point open (the paper's)
    assert all(d["training"]["recipe"] == "paper" for d in resolve_study(load_study("table2"), roots, Reduction(recipe="paper")))
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
    # the starred rows are marked quoted, in the data and in the report
    assert "| accuracy % | 65.9 (quoted) |" in md and "| accuracy % | 71.02 |" in md
    assert "(quoted): the paper quotes this figure from another study" in md and "Micro-Attention (Wang" in md
    assert {r["quoted_from"] != "" for r in report if r["study"] == "table2" and r["modality"] in ("apex", "dynamic_image")} == {True}
    t1 = [r for r in report if r["study"] == "table1"]
    mine = [r for r in t1 if r["ours"] is not None]
    assert {(r["dataset"], r["model"], r["modality"]) for r in mine} == {
        (d, "efficientnet_b0", m) for d in ("casme2", "samm") for m in ("affective_motion", "active_image")}
    for r in mine:
        assert r["difference"] == pytest.approx(r["ours"] - r["paper"]) and r["paper_protocol"] and r["our_protocol"]
    affective = [r for r in t1 if r["modality"] == "affective_motion"]
    assert len(affective) == 6 and sum(r["ours"] is not None for r in affective) == 2
    assert {r["why"] for r in affective if r["ours"] is None} == {"not in this run"}


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
    assert "| 3-class SMIC-HS | smic (3 cl.) | meganet | mesti | accuracy % | 92.68 |" in text
    assert "| 3-class CASME II | casme2 (3 cl.) | meganet | mesti | accuracy | 0.932 |" in text
    assert "0.9268" not in text and "leave-one-subject-out" in text
    # every row: the paper's figure as printed and ours in the same unit
    by_cell = {}
    for metrics_file in (tmp_path / "table3").rglob("metrics.json"):
        config = yaml.safe_load((metrics_file.parent / "config.yaml").read_text())
        by_cell[config["study"]["dataset"]["name"]] = json.loads(metrics_file.read_text())
    for r in compare(tmp_path):
        if r["study"] == "table3":
            scale = 100 if r["unit"] == "%" else 1
            assert r["ours"] == pytest.approx(by_cell[r["dataset"]][r["metric"]] * scale)
            assert r["paper"] == pytest.approx(float(r["printed"])) and r["difference"] == pytest.approx(r["ours"] - r["paper"])
    # the data each row ran on: synthetic stand-ins, in the title and in every row
    assert text.startswith("# The paper's figures beside ours, on synthetic stand-ins (not the real datasets)")
    rows_md = [x for x in text.splitlines() if x.startswith("| 3-class") or x.startswith("| 5-class")]
    assert rows_md and all(f"synthetic stand-in at {standins['casme2'].parent}" in x for x in rows_md if "not in this run" not in x)
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
    assert all(r["paper"] is None and r["why"] == "not printed" for r in report)


def test_meganet_with_mesti_and_the_dynamic_image(standins: dict[str, Path], tmp_path: Path) -> None:
    rows = _run("meganet_di", standins, tmp_path)
    assert len(rows) == 10 and {r["modality"] for r in rows} == {"mesti", "dynamic_image"}
    report = [r for r in compare(tmp_path) if r["study"] == "meganet_di"]
    di = [r for r in report if r["modality"] == "dynamic_image"]
    assert len(di) == 15 and all(r["paper"] is None and r["why"] == "not printed" and r["ours"] is not None for r in di)
    ours_mesti = [r for r in report if r["modality"] == "mesti"]
    assert len(ours_mesti) == 15 and all(r["paper"] is not None and r["ours"] is not None for r in ours_mesti)
    assert {r["printed"] for r in ours_mesti if r["metric"] == "accuracy"} == {"0.932", "92.68", "0.918", "82.04", "80.88"}
    md = write_paper_report(tmp_path).read_text()
    assert "- (not printed)" in md and "Dynamic Image" in md


def test_data_of_names_a_root_and_says_synthetic_only_when_marked(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "synth").mkdir()
    (tmp_path / "synth" / "synth.json").write_text("{}")
    assert data_of({"name": "casme2", "root": str(tmp_path / "real")}) == str(tmp_path / "real")
    assert data_of({"name": "casme2", "root": str(tmp_path / "synth")}) == f"synthetic stand-in at {tmp_path / 'synth'}"
    mixed = data_of({"name": "composite", "root": str(tmp_path / "real"), "casme2_root": str(tmp_path / "real"),
                     "samm_root": str(tmp_path / "synth")})
    assert mixed.startswith(str(tmp_path / "real")) and "synthetic stand-in: " in mixed


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
