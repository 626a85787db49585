"""Issue 22 D13, D25, D26: a trained artefact is checked before it predicts.

D13: a pipeline with std 0 or NaN, weights with NaN, and frames or images with NaN/inf are
refused (no NaN probability, no invalid JSON). D25: a bundle's files carry SHA-256 digests,
checked on load; figures no run produces are refused as estimates. D26: a run missing a
fold's checkpoint, or unfinished, is not silently averaged.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import mesti
from mesti.bundle import read_bundle
from mesti.cli.main import app
from mesti.errors import MestiError
from mesti.protocols import SubjectKFold
from mesti.engine.config import TrainConfig
from mesti.engine.samples import Inputs
from mesti.studies.run import Experiment, run_experiment
from mesti.bundle.train import train_bundle
from mesti.bundle.predictor import Predictor
from mesti.studies.inputs import load_samples
from tests.studies.study_tree import study_of, write_study_tree

runner = CliRunner()


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_study_tree(tmp_path_factory.mktemp("casme2"))


@pytest.fixture(scope="module")
def data(tree: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return load_samples(study_of("casme2", tree, modality="mesti", classes=3, size=32, face="none",
                        cache=tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def run(data, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    samples, meta = data.samples, data.record
    out = tmp_path_factory.mktemp("r") / "run"
    run_experiment(Inputs(samples, meta), Experiment("ststnet", SubjectKFold(k=2), TrainConfig(epochs=1, device="cpu"), save_checkpoints=True), out)
    return out


@pytest.fixture(scope="module")
def bundles(data, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """Two bundles of the same network trained with other seeds (same file layout, other weights)."""
    samples, meta = data.samples, data.record
    base = tmp_path_factory.mktemp("b")
    return tuple(train_bundle(Inputs(samples, meta), "ststnet", TrainConfig(epochs=1, device="cpu", seed=s), base / f"b{s}")[0]
                 for s in (0, 1))  # type: ignore[return-value]


def clip_dir(tree: Path) -> Path:
    return tree / "sub01" / "EP01_01f"


def copy(src: Path, tmp_path: Path, name: str = "copy") -> Path:
    return Path(shutil.copytree(src, tmp_path / name))


def predict(tree: Path, model: Path, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["predict", str(clip_dir(tree)), "--model", str(model), "--json", *extra])


def one_line(res, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    for word in words:
        assert word in res.stderr, res.stderr


# D13 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("std", "words"), [("0.0", "std must be > 0"), ("NaN", "std must be finite"),
                                            ('"x"', "std must be a float"), ("-1", "std must be > 0")])
def test_a_pipeline_with_std_zero_or_nan_is_refused_on_load(bundles, tree: Path, tmp_path: Path, std: str,
                                                            words: str) -> None:  # type: ignore[no-untyped-def]
    path = copy(bundles[0], tmp_path)
    pipe = json.loads((path / "pipeline.json").read_text())
    text = json.dumps({**pipe, "normalize": {"mean": pipe["normalize"]["mean"], "std": ["STD"] * 3}})
    (path / "pipeline.json").write_text(text.replace('"STD"', std))
    one_line(predict(tree, path), "pipeline.json", words)
    with pytest.raises(MestiError, match=words):
        mesti.load_model(path)


def test_a_fold_checkpoint_with_nan_weights_is_refused(run: Path, tree: Path, tmp_path: Path) -> None:
    folder = copy(run / "checkpoints", tmp_path)
    weights = torch.load(folder / "fold01.pt", weights_only=True)
    first = next(k for k, v in weights.items() if v.is_floating_point())
    weights[first].view(-1)[0] = float("nan")
    torch.save(weights, folder / "fold01.pt")
    one_line(predict(tree, folder / "fold01.pt"), "fold01.pt", "NaN or infinite")


def test_frames_and_images_with_nan_or_inf_are_refused(bundles, tree: Path) -> None:  # type: ignore[no-untyped-def]
    good = mesti.load_clip(clip_dir(tree))
    for bad in (float("nan"), float("inf")):
        frames = good.frames.astype(np.float32)
        frames[2, 3, 4, 0] = bad
        with pytest.raises(MestiError, match="frame 2 holds NaN or infinite values"):
            mesti.encode(mesti.Clip(frames, 0, 3, 5), "mesti")
        predictor = mesti.load_model(bundles[0])
        image = predictor.encode(good)
        image[1, 1, 0] = bad
        with pytest.raises(MestiError, match="image holds NaN or infinite values"):
            predictor.classify(image)


def test_predict_json_is_strict_json(bundles, tree: Path) -> None:  # type: ignore[no-untyped-def]
    res = predict(tree, bundles[0])
    assert res.exit_code == 0, res.output

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in --json output")

    out = json.loads(res.stdout.strip().splitlines()[-1], parse_constant=refuse)
    assert abs(sum(out["probabilities"].values()) - 1) < 1e-5


# D25 -------------------------------------------------------------------------------------------

def test_bundle_json_records_a_digest_of_every_file(bundles) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    digests = json.loads((bundles[0] / "bundle.json").read_text())["digests"]
    assert sorted(digests) == ["model.json", "model.md", "model.pt", "pipeline.json"]
    for name, digest in digests.items():
        assert hashlib.sha256((bundles[0] / name).read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("damage", ["swapped_weights", "reordered_classes", "edited_card", "no_digests"])
def test_a_changed_bundle_is_refused(bundles, tree: Path, tmp_path: Path, damage: str) -> None:  # type: ignore[no-untyped-def]
    path = copy(bundles[0], tmp_path)
    words = {"swapped_weights": "model.pt: does not match the digest", "reordered_classes": "pipeline.json: does not match",
             "edited_card": "model.md: does not match", "no_digests": "lists no digests"}[damage]
    if damage == "swapped_weights":
        shutil.copy(bundles[1] / "model.pt", path / "model.pt")
    elif damage == "reordered_classes":
        pipe = json.loads((path / "pipeline.json").read_text())
        pipe["classes"] = pipe["classes"][::-1]
        (path / "pipeline.json").write_text(json.dumps(pipe))
    elif damage == "edited_card":
        (path / "model.md").write_text((path / "model.md").read_text().replace("Not estimated", "UF1 0.99"))
    else:
        manifest = json.loads((path / "bundle.json").read_text())
        del manifest["digests"]
        manifest["format_version"] = 1
        (path / "bundle.json").write_text(json.dumps(manifest))
    one_line(predict(tree, path), words)
    res = runner.invoke(app, ["export", str(path), "--onnx", str(tmp_path / "m.onnx")])
    assert res.exit_code == 2 and words in res.stderr and not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("edit", [{"uf1": 99}, {"accuracy": -5}, {"uar": "high"}, {"n": 0}, {"uf1": None}])
def test_a_tampered_estimate_is_refused_before_training(run: Path, data, tree: Path, tmp_path: Path,
                                                         edit: dict) -> None:  # type: ignore[no-untyped-def]
    samples, meta = data.samples, data.record
    tampered = copy(run, tmp_path, "run")
    metrics = json.loads((tampered / "metrics.json").read_text())
    (tampered / "metrics.json").write_text(json.dumps({**metrics, **edit}))
    key = next(iter(edit))
    with pytest.raises(MestiError, match=f"metrics.json: {key} "):
        train_bundle(Inputs(samples, meta), "ststnet", TrainConfig(epochs=1, device="cpu"), tmp_path / "b", estimate=tampered)
    assert not (tmp_path / "b").exists()


def test_a_tampered_estimate_inside_a_bundle_is_refused(bundles, tree: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = copy(bundles[0], tmp_path)
    manifest = json.loads((path / "bundle.json").read_text())
    manifest["provenance"]["estimate"] = {"protocol": "LOSO", "n": 24, "n_folds": 4, "accuracy": -5, "uf1": 99,
                                          "uar": 0.5, "run_seed": 0}
    (path / "bundle.json").write_text(json.dumps(manifest))
    one_line(predict(tree, path), "its estimate", "accuracy -5")


# D26 -------------------------------------------------------------------------------------------

def test_a_run_missing_a_fold_checkpoint_is_refused_unless_asked(run: Path, tree: Path, tmp_path: Path) -> None:
    partial = copy(run, tmp_path, "run")
    (partial / "checkpoints" / "fold02.pt").unlink()
    one_line(predict(tree, partial), "holds 1 of its 2 fold models (no fold02.pt)", "--allow-partial")
    with pytest.raises(MestiError, match="1 of its 2"):
        mesti.load_model(partial)
    res = predict(tree, partial, "--allow-partial")
    assert res.exit_code == 0, res.output
    assert "warning:" in res.stderr and "1 of its 2" in res.stderr
    assert "INCOMPLETE" in json.loads(res.stdout.strip().splitlines()[-1])["model"]
    assert mesti.load_model(partial, allow_partial=True).incomplete


def test_an_unfinished_run_is_refused(run: Path, tree: Path, tmp_path: Path) -> None:
    partial = copy(run, tmp_path, "run")
    (partial / "metrics.json").unlink()
    one_line(predict(tree, partial), "not finished")


def test_a_multi_seed_run_names_a_seed(run: Path, tree: Path, tmp_path: Path) -> None:
    (tmp_path / "seeds").mkdir()
    copy(run, tmp_path / "seeds", "seed-0")
    one_line(predict(tree, tmp_path / "seeds"), "a run over 1 seed(s)", "seed-0")


def test_rerunning_restores_a_missing_fold_checkpoint(run: Path, data, tree: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    samples, meta = data.samples, data.record
    partial = copy(run, tmp_path, "run")
    (partial / "checkpoints" / "fold02.pt").unlink()
    before = Predictor.from_checkpoint(run / "checkpoints" / "fold02.pt").predict(mesti.load_clip(clip_dir(tree)))
    run_experiment(Inputs(samples, meta), Experiment("ststnet", SubjectKFold(k=2), TrainConfig(epochs=1, device="cpu"), save_checkpoints=True), partial)
    again = Predictor.from_checkpoint(partial / "checkpoints" / "fold02.pt").predict(mesti.load_clip(clip_dir(tree)))
    np.testing.assert_allclose(list(again.probabilities.values()), list(before.probabilities.values()), atol=1e-5)
    assert len(mesti.load_model(partial).members) == 2


def test_digests_that_name_other_files_are_refused(bundles, tree: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = copy(bundles[0], tmp_path)
    manifest = json.loads((path / "bundle.json").read_text())
    manifest["digests"]["extra.bin"] = "00"
    (path / "bundle.json").write_text(json.dumps(manifest))
    one_line(predict(tree, path), "its digests must name exactly model.pt")
