"""The model bundle: train on everything, load, predict; the fold ensemble; --estimate; bad bundles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import mesti
from mesti.bundle import FORMAT_VERSION, read_bundle
from mesti.cli.main import app
from mesti.errors import MestiError
from mesti.protocols import LeaveOneSubjectOut
from mesti.engine.config import TrainConfig
from mesti.engine.samples import Inputs
from mesti.studies.run import Experiment, run_experiment
from mesti.bundle.train import train_bundle
from mesti.bundle.predictor import FoldEnsemble, Predictor
from mesti.pipeline import PIPELINE_VERSION, Pipeline, read_pipeline
from mesti.studies.inputs import load_samples
from tests.studies.study_tree import study_of, write_study_tree

runner = CliRunner()
EPOCHS = 2


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_study_tree(tmp_path_factory.mktemp("casme2"))


@pytest.fixture(scope="module")
def data(tree: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return load_samples(study_of("casme2", tree, modality="mesti", classes=3, size=32, face="none",
                        cache=tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def bundle(data, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    samples, meta = data.samples, data.record
    out = tmp_path_factory.mktemp("b") / "bundle"
    path, model, pipeline = train_bundle(Inputs(samples, meta), "meganet", TrainConfig(epochs=EPOCHS, device="cpu"), out, img_size=32, command="mesti train (test)")
    return path, model, pipeline


def clip(tree: Path) -> mesti.Clip:
    return mesti.load_clip(tree / "sub01" / "EP01_01f", apex=3)


def test_bundle_round_trips_to_the_same_probabilities(bundle, tree: Path) -> None:  # type: ignore[no-untyped-def]
    path, model, pipeline = bundle
    assert sorted(p.name for p in path.iterdir()) == ["bundle.json", "model.json", "model.md", "model.pt", "pipeline.json"]
    in_memory = Predictor(model, pipeline).predict(clip(tree))
    loaded = mesti.load_model(path)
    assert isinstance(loaded, Predictor) and "bundle" in loaded.name
    again = loaded.predict(clip(tree))
    assert again.label == in_memory.label
    np.testing.assert_allclose(list(again.probabilities.values()), list(in_memory.probabilities.values()), atol=1e-6)
    assert again.attention is not None and again.attention.shape == (32, 32)  # MEGANet's gradient attention
    manifest = json.loads((path / "bundle.json").read_text())
    prov = manifest["provenance"]
    assert manifest["format_version"] == FORMAT_VERSION and prov["subjects"] == 4
    assert prov["clips_per_class"] == {"negative": 8, "positive": 8, "surprise": 8}
    assert prov["estimate"] is None and prov["settings"]["training"]["epochs"] == EPOCHS
    card = (path / "model.md").read_text()
    assert "every labelled subject" in card and "Not estimated" in card


def test_the_final_model_trains_on_every_sample(data) -> None:  # type: ignore[no-untyped-def]
    from mesti.bundle.train import train_final
    from mesti.utils.hooks import Functions

    samples = data.samples
    epochs: list[int] = []
    model, result = train_final(samples, "ststnet", TrainConfig(epochs=1, device="cpu", batch_size=64),
                                hooks=Functions(epoch_ended=lambda e, t, s: epochs.append(e)))
    assert result.test_index == [] and result.probs == [] and epochs == [1]
    assert len(result.norm["mean"]) == 3


def test_fold_ensemble_averages_the_folds(tree: Path, data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    samples, meta = data.samples, data.record
    run = tmp_path / "run"
    from mesti.protocols import SubjectKFold

    run_experiment(Inputs(samples, meta), Experiment("meganet", SubjectKFold(k=2, seed=0), TrainConfig(epochs=1, device="cpu"), img_size=32, save_checkpoints=True), run)
    ensemble = mesti.load_model(run)
    assert isinstance(ensemble, FoldEnsemble) and len(ensemble.members) == 2
    saved = run / "pipeline.json"  # the run's own pipeline: current schema, no fold's normalisation
    assert json.loads(saved.read_text())["pipeline_version"] == PIPELINE_VERSION
    assert read_pipeline(saved, trained=False).same_inputs(ensemble.pipeline)
    folds = [Predictor.from_checkpoint(p).predict(clip(tree)) for p in sorted((run / "checkpoints").glob("*.pt"))]
    mean = np.mean([list(f.probabilities.values()) for f in folds], axis=0)
    assert not np.allclose(list(folds[0].probabilities.values()), list(folds[1].probabilities.values()))
    got = ensemble.predict(clip(tree))
    np.testing.assert_allclose(list(got.probabilities.values()), mean, atol=1e-6)
    np.testing.assert_allclose(got.attention, np.mean([f.attention for f in folds], axis=0), atol=1e-6)
    assert got.model.startswith("fold ensemble") and "2 fold models" in got.model
    res = runner.invoke(app, ["predict", str(tree / "sub01" / "EP01_01f"), "--model", str(run), "--apex", "3", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["model"].startswith("fold ensemble")
    np.testing.assert_allclose(list(out["probabilities"].values()), mean, atol=1e-5)
    # a run whose own pipeline disagrees with its fold models' was changed after it ran
    text = saved.read_text()
    saved.write_text(text.replace('"size": 32', '"size": 48'))
    with pytest.raises(MestiError, match="the run's pipeline differs"):
        mesti.load_model(run)
    saved.write_text(text)
    # fold models that encode clips differently cannot be averaged
    pipe = sorted((run / "checkpoints").glob("*.pipeline.json"))[1]
    pipe.write_text(pipe.read_text().replace('"mesti"', '"dynamic_image"'))
    with pytest.raises(MestiError, match="encodes clips differently"):
        mesti.load_model(run)


def test_estimate_takes_a_matching_run_and_refuses_another(tree: Path, data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    samples, meta = data.samples, data.record
    cfg = TrainConfig(epochs=1, device="cpu")
    run = tmp_path / "loso"
    metrics = run_experiment(Inputs(samples, meta), Experiment("ststnet", LeaveOneSubjectOut(), cfg), run)
    path, _, _ = train_bundle(Inputs(samples, meta), "ststnet", TrainConfig(epochs=1, device="cpu", seed=3), tmp_path / "ok", estimate=run)
    est = read_bundle(path).provenance["estimate"]
    assert est["uf1"] == metrics["uf1"] and est["n"] == 24 and est["n_folds"] == 4 and "LOSO" in est["protocol"]
    assert f"UF1 {metrics['uf1']:.3f}" in (path / "model.md").read_text()
    with pytest.raises(MestiError, match=r"other settings.*training\.epochs"):
        train_bundle(Inputs(samples, meta), "ststnet", TrainConfig(epochs=2, device="cpu"), tmp_path / "bad", estimate=run)
    assert not (tmp_path / "bad").exists()
    # through the CLI: one line, exit code 2, no bundle folder
    args = ["train", "--dataset", "casme2", "--root", str(tree), "--classes", "3", "--modality", "mesti", "--model",
            "ststnet", "--epochs", "1", "--face", "none", "--size", "32", "--cache", str(tmp_path / "c"),
            "--device", "cpu", "--img-size", "32", "--estimate", str(run), "--out", str(tmp_path / "cli")]
    res = runner.invoke(app, args)
    errors = [line for line in res.stderr.splitlines() if "error:" in line]
    assert res.exit_code == 2 and len(errors) == 1 and "model.input_size" in errors[0]
    assert not (tmp_path / "cli").exists()


def test_train_cli_writes_a_bundle_that_predict_and_export_accept(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    args = ["train", "--dataset", "casme2", "--root", str(tree), "--classes", "3", "--modality", "mesti", "--model",
            "ststnet", "--epochs", "2", "--face", "none", "--size", "32", "--cache", str(tmp_path / "c"),
            "--device", "cpu", "--val-fraction", "0.25", "--out", str(out)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output + str(res.exception)
    prov = read_bundle(out).provenance
    assert prov["command"].startswith("mesti ") and "val_loss" in prov["history"]  # validation subjects carved
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "pass --overwrite" in res.stderr
    res = runner.invoke(app, ["predict", str(tree / "sub02" / "EP07_01f"), "--model", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["model"].startswith("bundle")
    res = runner.invoke(app, ["export", str(out), "--onnx", str(tmp_path / "m.onnx")])
    assert res.exit_code == 0, res.output + str(res.exception)
    assert (tmp_path / "m.onnx").stat().st_size > 0


def _copy(bundle_path: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle_path, tmp_path / "copy"))


@pytest.mark.parametrize("damage", ["missing_weights", "newer", "classes", "not_json"])
def test_bad_bundles_are_refused_in_one_line(bundle, tree: Path, tmp_path: Path, damage: str) -> None:  # type: ignore[no-untyped-def]
    path = _copy(bundle[0], tmp_path)
    expected = {"missing_weights": "incomplete bundle: model.pt missing", "newer": "upgrade mesti",
                "classes": "3 outputs but its pipeline names 2 classes", "not_json": "not valid JSON"}[damage]
    if damage == "missing_weights":
        (path / "model.pt").unlink()
    elif damage == "newer":
        manifest = json.loads((path / "bundle.json").read_text())
        manifest["format_version"] = FORMAT_VERSION + 1
        (path / "bundle.json").write_text(json.dumps(manifest))
    elif damage == "classes":
        pipe = json.loads((path / "pipeline.json").read_text())
        pipe["classes"] = pipe["classes"][:2]
        (path / "pipeline.json").write_text(json.dumps(pipe))
    else:
        (path / "pipeline.json").write_text("{")
    res = runner.invoke(app, ["predict", str(tree / "sub01" / "EP01_01f"), "--model", str(path)])
    assert res.exit_code == 2 and expected in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    if damage != "not_json":
        res = runner.invoke(app, ["export", str(path), "--onnx", str(tmp_path / "x.onnx")])
        assert res.exit_code == 2 and expected in res.stderr and not (tmp_path / "x.onnx").exists()


def test_a_fold_checkpoint_whose_classes_disagree_with_its_pipeline(bundle, tree: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = bundle[0]
    ckpt = tmp_path / "fold.pt"
    shutil.copy(path / "model.pt", ckpt)
    shutil.copy(path / "model.json", tmp_path / "fold.json")
    pipe = json.loads((path / "pipeline.json").read_text())
    pipe["classes"] = ["a", "b", "c", "d"]
    (tmp_path / "fold.pipeline.json").write_text(json.dumps(pipe))
    res = runner.invoke(app, ["predict", str(tree / "sub01" / "EP01_01f"), "--checkpoint", str(ckpt)])
    assert res.exit_code == 2 and "3 outputs but its pipeline names 4 classes" in res.stderr


def test_pictures_are_never_written_into_the_clip(bundle, tree: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 22 D23: ``predict --pictures CLIP`` wrote mesti.png among the clip's frames, where it
    then became a frame of the clip."""
    clip = tmp_path / "EP01_01f"
    shutil.copytree(tree / "sub01" / "EP01_01f", clip)
    frames = sorted(p.name for p in clip.iterdir())
    path = bundle[0]
    for pictures in (clip, clip / "pictures", clip / "." / "a" / ".."):
        res = runner.invoke(app, ["predict", str(clip), "--model", str(path), "--pictures", str(pictures)])
        assert res.exit_code == 2 and "--pictures" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in clip.iterdir()) == frames
    res = runner.invoke(app, ["predict", str(clip), "--model", str(path), "--pictures", str(tmp_path / "pics")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "pics" / "mesti.png").is_file()


def test_pictures_never_replace_a_file_of_the_users(bundle, tree: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Hostile pass of issue 22: ``predict --pictures DIR`` silently replaced the user's own
    DIR/mesti.png and DIR/attention.png; a file given as the folder failed late."""
    clip = tree / "sub01" / "EP01_01f"
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("mesti.png", "attention.png"):
        (mine / name).write_bytes(b"the user's own picture")
        res = runner.invoke(app, ["predict", str(clip), "--model", str(bundle[0]), "--pictures", str(mine)])
        assert res.exit_code == 2 and name in res.stderr and "--pictures" in res.stderr, res.output
        assert len(res.stderr.strip().splitlines()) == 1
        assert (mine / name).read_bytes() == b"the user's own picture"
        (mine / name).unlink()
    (tmp_path / "f.txt").write_text("mine")
    res = runner.invoke(app, ["predict", str(clip), "--model", str(bundle[0]), "--pictures", str(tmp_path / "f.txt")])
    assert res.exit_code == 2 and "--pictures" in res.stderr and (tmp_path / "f.txt").read_text() == "mine"
    (mine / "notes.txt").write_text("other files are left alone")
    res = runner.invoke(app, ["predict", str(clip), "--model", str(bundle[0]), "--pictures", str(mine)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in mine.iterdir()) == ["attention.png", "mesti.png", "notes.txt"]
