"""A clip reaches the network bit for bit the same through training, ``predict`` and ``analyze``.

Training feeds the network from the modality cache (``prepare`` -> cached image -> fit ->
the fold's normalisation inside the engine); ``predict`` runs the trained pipeline on the raw
clip; ``analyze`` (and the spotter's classifier, which shares its reader) cuts the frames
from a stream, crops them one by one and runs the same pipeline. The network's own input is
captured by a forward pre-hook on each path and compared with ``torch.equal``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import mesti.models
from mesti.analysis.run import classify_intervals
from mesti.bundle.predictor import Predictor
from mesti.clips.intervals import Interval
from mesti.datasets.registry import create_dataset
from mesti.engine.config import TrainConfig
from mesti.modalities import list_modalities
from mesti.protocols import create_protocol
from mesti.studies.inputs import load_samples
from mesti.studies.run import Experiment, run_experiment
from tests.studies.study_tree import study_of, write_study_tree

SIZE = 20  # the face crops' side; the network (STSTNet) takes 28 x 28, so the fit step resizes


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_study_tree(tmp_path_factory.mktemp("casme2"), subjects=2, per_class=1, size=SIZE)


def _eval_inputs(model: torch.nn.Module, seen: list[torch.Tensor]) -> torch.nn.Module:
    """Record what ``model`` is given in eval mode (the test side's predictions, not training)."""
    def hook(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        if not module.training:
            seen.append(args[0].detach().clone())

    model.register_forward_pre_hook(hook)
    return model


@pytest.mark.parametrize("modality", list_modalities())
def test_a_clip_is_the_same_network_input_in_training_predict_and_analyze(
        modality: str, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = load_samples(study_of("casme2", tree, modality=modality, classes=3, size=SIZE, face="none",
                                   cache=tmp_path / "cache"), workers=1)
    samples = inputs.samples
    trained: list[list[torch.Tensor]] = []
    real = mesti.models.create_model

    def recorded(*args: object, **kwargs: object) -> torch.nn.Module:
        trained.append([])
        return _eval_inputs(real(*args, **kwargs), trained[-1])

    monkeypatch.setattr(mesti.models, "create_model", recorded)
    run = tmp_path / "run"
    run_experiment(inputs, Experiment("ststnet", create_protocol("loso"), TrainConfig(epochs=1, device="cpu"),
                                      save_checkpoints=True, engine="sequential"), run)
    monkeypatch.undo()

    protocol = create_protocol("loso")
    fold = protocol.folds(samples.labels.numpy(), samples.subjects, samples.datasets)[0]  # the first model built
    test_inputs = trained[0][-1]  # its last eval call: the test side, in fold order
    predictor = Predictor.from_checkpoint(run / "checkpoints" / f"{fold.name}.pt")
    by_key = {r.key: r for r in create_dataset("casme2", tree, classes=3).records()}
    records = [by_key[samples.keys[i]] for i in fold.test]
    assert len(records) == len(test_inputs) == 3
    seen: list[torch.Tensor] = []
    _eval_inputs(predictor.model, seen)
    for k, record in enumerate(records):
        training = test_inputs[k : k + 1]
        seen.clear()
        predictor.predict(record.load())
        assert torch.equal(seen[-1], training), f"{modality}: predict feeds {record.key} another input than training"
        clip = record.load()
        seen.clear()
        intervals, _, _, notes = classify_intervals(predictor, record.frame_dir, 30.0,
                                                    [Interval(clip.onset, clip.apex, clip.offset, "micro")])
        assert not notes and intervals[0].label is not None
        assert torch.equal(seen[-1], training), f"{modality}: analyze feeds {record.key} another input than training"
