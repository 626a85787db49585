"""One study spec: the recipe applied once, seeds, the data-aware resume key, grid checks and failed cells."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.errors import MestiError
from mesti.studies.grid import GridSpec, run_grid
from mesti.studies.inputs import load_samples
from mesti.studies.spec import DatasetSpec, StudySpec, parse_seeds, run_study
from mesti.utils.hooks import Functions
from tests.studies.image_tree import image_folder

runner = CliRunner()


def images_spec(root: Path, **kw: object) -> StudySpec:
    base: dict[str, object] = {"dataset": DatasetSpec("images", str(root), manifest=str(root / "manifest.csv")),
                               "model": "ststnet", "training": {"epochs": 1, "device": "cpu"}}
    return StudySpec(**{**base, **kw})  # type: ignore[arg-type]


def test_native_recipe_is_applied_in_the_spec_and_explicit_options_win(tmp_path: Path) -> None:
    spec = images_spec(tmp_path, training={"recipe": "native", "epochs": 2, "device": "cpu"})
    cfg = spec.train_config(3)
    # STSTNet's own paper: Adam 5e-5, batch 256, cross-entropy, no augmentation; epochs given explicitly
    assert (cfg.recipe, cfg.lr, cfg.batch_size, cfg.loss, cfg.flip, cfg.epochs, cfg.seed) == (
        "native", 5e-5, 256, "cross_entropy", False, 2, 3)
    paper = images_spec(tmp_path).train_config(0)
    assert (paper.recipe, paper.lr, paper.loss, paper.flip) == ("paper", 1e-3, "focal", True)
    with pytest.raises(MestiError, match="no published recipe"):
        images_spec(tmp_path, model="meganet", training={"recipe": "native"}).train_config(0)


def test_a_native_grid_cell_trains_with_the_native_recipe(tmp_path: Path) -> None:
    manifest = image_folder(tmp_path / "images")
    grid = {"datasets": [{"name": "images", "root": str(tmp_path / "images"), "manifest": str(manifest)}],
            "modalities": ["images"], "models": ["ststnet"], "protocols": [{"name": "kfold", "k": 2}],
            "training": {"recipe": "native", "epochs": 1, "device": "cpu"}}
    (tmp_path / "g.yaml").write_text(yaml.safe_dump(grid))
    rows = run_grid(GridSpec.from_yaml(tmp_path / "g.yaml"), tmp_path / "grid")
    config = yaml.safe_load((tmp_path / "grid" / rows[0]["run_dir"] / "config.yaml").read_text())
    trained = config["training"]  # the very config run_experiment trained with
    assert (trained["recipe"], trained["lr"], trained["batch_size"], trained["loss"], trained["flip"]) == (
        "native", 5e-5, 256, "cross_entropy", False)
    assert config["study"]["training"]["recipe"] == "native" and config["study"]["seeds"] == [0]


def test_seeds_each_a_full_run_with_mean_and_std(tmp_path: Path) -> None:
    manifest = image_folder(tmp_path / "images")
    args = ["loso", "--dataset", "folder", "--root", str(tmp_path / "images"), "--manifest", str(manifest),
            "--model", "ststnet", "--epochs", "1", "--device", "cpu", "--folds", "2"]
    res = runner.invoke(app, [*args, "--seeds", "0,1", "--out", str(tmp_path / "many")])
    assert res.exit_code == 0, res.output + str(res.exception)
    per_seed = [json.loads((tmp_path / "many" / f"seed-{s}" / "metrics.json").read_text()) for s in (0, 1)]
    summary = json.loads((tmp_path / "many" / "metrics.json").read_text())
    assert summary["uf1"] == pytest.approx((per_seed[0]["uf1"] + per_seed[1]["uf1"]) / 2)
    assert summary["uf1_std"] == pytest.approx(abs(per_seed[0]["uf1"] - per_seed[1]["uf1"]) / 2 ** 0.5)
    assert "2 seeds" in summary["protocol"] and "+-" in res.stdout
    assert (tmp_path / "many" / "seeds.md").is_file()
    seed1 = yaml.safe_load((tmp_path / "many" / "seed-1" / "config.yaml").read_text())
    assert seed1["training"]["seed"] == 1 and seed1["protocol"]["seed"] == 1  # the split follows the seed too
    res = runner.invoke(app, [*args, "--seed", "1", "--out", str(tmp_path / "one")])
    assert res.exit_code == 0
    assert json.loads((tmp_path / "one" / "metrics.json").read_text()) == per_seed[1]
    res = runner.invoke(app, [*args, "--seed", "1", "--seeds", "0,1", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "not both" in res.stderr
    assert parse_seeds("3, 4", None) == (3, 4)
    with pytest.raises(MestiError, match="comma-separated"):
        parse_seeds("a,b", None)


def _swap_labels(manifest: Path) -> None:
    """Swap the labels of two clips of different subjects (class counts unchanged)."""
    lines = manifest.read_text().splitlines()
    a, b = lines[1].split(","), lines[8].split(",")  # s0/c0 (label 0) and s1/c1 (label 1)
    assert a[2] != b[2]
    a[2], b[2] = b[2], a[2]
    lines[1], lines[8] = ",".join(a), ",".join(b)
    manifest.write_text("\n".join(lines) + "\n")


def test_a_fold_trained_on_other_labels_is_trained_again(tmp_path: Path) -> None:
    """Issue: kill a run, change labels in the manifest, rerun: finished folds must not be reused."""
    manifest = image_folder(tmp_path / "images")
    spec = images_spec(tmp_path / "images", training={"epochs": 2, "device": "cpu"})

    class Crash(Exception):
        pass

    def crash_at_third(name: str, i: int, n: int) -> None:
        if i == 2:
            raise Crash

    with pytest.raises(Crash):
        run_study(spec, tmp_path / "run", load_samples(spec), hooks=Functions(fold_started=crash_at_third))
    assert len(list((tmp_path / "run" / "folds").glob("*.json"))) == 2
    _swap_labels(manifest)
    trained: list[str] = []
    resumed = run_study(spec, tmp_path / "run", load_samples(spec), hooks=Functions(fold_started=lambda name, i, n: trained.append(name)))
    epochs: list[int] = []
    run_study(spec, tmp_path / "run2", load_samples(spec), hooks=Functions(epoch_ended=lambda e, t, s: epochs.append(e)))
    fresh = json.loads((tmp_path / "run2" / "metrics.json").read_text())
    assert resumed == fresh  # every fold saw a swapped clip, so every fold was retrained on the new labels
    assert (tmp_path / "run" / "predictions.csv").read_text() == (tmp_path / "run2" / "predictions.csv").read_text()
    # and an unchanged rerun of the finished run reuses every fold
    epochs.clear()
    run_study(spec, tmp_path / "run", load_samples(spec), hooks=Functions(epoch_ended=lambda e, t, s: epochs.append(e)))
    assert epochs == []


def test_a_finished_run_with_changed_labels_is_refused_or_retrained(tmp_path: Path) -> None:
    manifest = image_folder(tmp_path / "images")
    args = ["loso", "--dataset", "folder", "--root", str(tmp_path / "images"), "--manifest", str(manifest),
            "--model", "ststnet", "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "run")]
    assert runner.invoke(app, args).exit_code == 0
    lines = manifest.read_text().splitlines()
    row = lines[1].split(",")
    row[2] = "1" if row[2] == "0" else "0"  # one label changed: the class counts change too
    manifest.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "another configuration" in res.stderr and "samples" in res.stderr


def grid_yaml(tmp_path: Path, **over: object) -> Path:
    manifest = image_folder(tmp_path / "images") if not (tmp_path / "images").exists() else tmp_path / "images" / "manifest.csv"
    grid = {"datasets": [{"name": "images", "root": str(tmp_path / "images"), "manifest": str(manifest)}],
            "modalities": ["images"], "models": ["ststnet"], "protocols": [{"name": "kfold", "k": 2}],
            "training": {"epochs": 1, "device": "cpu"}, **over}
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(grid))
    return path


@pytest.mark.parametrize(("over", "message"), [
    ({"models": ["ststnet", "nonet"]}, "unknown model 'nonet'"),
    ({"modalities": ["mesti", "flowz"], "datasets": [{"name": "casme2", "root": "."}]}, "unknown modality 'flowz'"),
    ({"datasets": [{"name": "casme9", "root": "."}]}, "unknown dataset 'casme9'"),
    ({"protocols": ["loso", "lopo"]}, "unknown protocol 'lopo'"),
    ({"protocols": [{"name": "kfold", "kk": 2}]}, "takes no option 'kk'; it takes k, seed"),
    ({"training": {"epochs": 0}}, "must be at least 1"),
    ({"models": ["ststnet", "meganet"], "training": {"recipe": "native"}}, "no published recipe"),
    ({"modality_options": {"mesti": {"which": "apex_offset"}}, "modalities": ["mesti"],
      "datasets": [{"name": "casme2", "root": "."}]}, "unknown option"),
    ({"executor": {"name": "slurm"}}, "unknown executor"),
    ({"seeds": [1, 1]}, "each once"),
])
def test_grid_checks_every_cell_before_anything_runs(tmp_path: Path, over: dict[str, object], message: str) -> None:
    path = grid_yaml(tmp_path, **over)
    res = runner.invoke(app, ["grid", str(path), "--out", str(tmp_path / "g")])
    assert res.exit_code == 2 and message in res.stderr, res.output
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "g").exists()


def test_two_datasets_of_one_name_need_distinct_labels(tmp_path: Path) -> None:
    manifest = image_folder(tmp_path / "images")
    image_folder(tmp_path / "other")
    entries = [{"name": "images", "root": str(tmp_path / "images"), "manifest": str(manifest)},
               {"name": "images", "root": str(tmp_path / "other"), "manifest": str(tmp_path / "other" / "manifest.csv")}]
    path = grid_yaml(tmp_path, datasets=entries)
    res = runner.invoke(app, ["grid", str(path), "--out", str(tmp_path / "g")])
    assert res.exit_code == 2 and "share the folder 'images'" in res.stderr and "label" in res.stderr
    entries[1]["label"] = "images-other"
    spec = GridSpec.from_yaml(grid_yaml(tmp_path, datasets=entries))
    dirs = [run_dir for _, _, run_dir in spec.studies(tmp_path / "g")]
    assert len(set(dirs)) == 2 and dirs[1].relative_to(tmp_path / "g").parts[0] == "images-other"


def test_a_failing_cell_is_recorded_and_the_others_run(tmp_path: Path) -> None:
    manifest = image_folder(tmp_path / "images")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.csv").write_text("path,subject,label\nmissing.png,s0,0\n")
    entries = [{"name": "images", "root": str(tmp_path / "broken"), "manifest": str(tmp_path / "broken" / "manifest.csv"),
                "label": "broken"},
               {"name": "images", "root": str(tmp_path / "images"), "manifest": str(manifest)}]
    path = grid_yaml(tmp_path, datasets=entries)
    res = runner.invoke(app, ["grid", str(path), "--out", str(tmp_path / "g")])
    assert res.exit_code == 1, res.output
    assert "error: cell broken/" in res.stderr and "missing.png" in res.stderr
    summary = json.loads((tmp_path / "g" / "summary.json").read_text())
    assert [r["status"] for r in summary] == ["failed", "ok"]
    assert summary[1]["n"] == 18 and (tmp_path / "g" / summary[1]["run_dir"] / "metrics.json").is_file()
    assert "failed" in (tmp_path / "g" / "summary.md").read_text()


def test_grid_seeds_run_each_cell_per_seed(tmp_path: Path) -> None:
    path = grid_yaml(tmp_path, seeds=[0, 1])
    rows = run_grid(GridSpec.from_yaml(path), tmp_path / "g")
    cell = tmp_path / "g" / rows[0]["run_dir"]
    per_seed = [json.loads((cell / f"seed-{s}" / "metrics.json").read_text()) for s in (0, 1)]
    assert rows[0]["uf1"] == pytest.approx((per_seed[0]["uf1"] + per_seed[1]["uf1"]) / 2)
    assert rows[0]["uf1_std"] == json.loads((cell / "metrics.json").read_text())["uf1_std"]
    assert "2 seeds" in rows[0]["protocol"]


def test_micro_attention_with_in_chans_3_trains_inside_a_grid(tmp_path: Path) -> None:
    # in_chans among a network's options sets what the pipeline feeds (once), not a second keyword
    path = grid_yaml(tmp_path, models=["micro_attention"], img_size=16, model_kwargs={"micro_attention": {"in_chans": 3}})
    rows = run_grid(GridSpec.from_yaml(path), tmp_path / "g")
    assert rows[0]["status"] == "ok", rows[0].get("error")
    config = yaml.safe_load((tmp_path / "g" / rows[0]["run_dir"] / "config.yaml").read_text())
    assert config["model"]["input_size"] == [3, 16, 16] and config["model"]["kwargs"] == {"in_chans": 3}
    bad = grid_yaml(tmp_path / "bad", models=["micro_attention"], model_kwargs={"micro_attention": {"in_chans": 0}})
    res = runner.invoke(app, ["grid", str(bad), "--out", str(tmp_path / "bad-out")])
    assert res.exit_code == 2 and "in_chans must be a positive int" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_a_recipe_leaves_what_its_source_does_not_state_to_the_paper(tmp_path: Path) -> None:
    # VGG19's recipe in Table II is LEARNet's, of which nothing is public: every point keeps the paper's
    cfg = images_spec(tmp_path, model="vgg19", training={"recipe": "native"}).train_config(0)
    paper = images_spec(tmp_path, model="vgg19", training={}).train_config(0)
    assert cfg.recipe == "native" and {**cfg.to_dict(), "recipe": "paper"} == paper.to_dict()
