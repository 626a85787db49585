"""Checkpoints: state dict + JSON config, loaded with weights_only=True; bad files are refused."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch

import mesti
from mesti.errors import MestiError
from mesti.models import config_path, create_model, load_checkpoint, read_state_dict, save_checkpoint
from mesti.models.weights import load_weights


@pytest.fixture
def meganet_ckpt(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    model = create_model("meganet", 5, img_size=64, widths=[32, 64, 96], use_ga=False)
    with torch.no_grad():
        for block in model.blocks:
            block.attention.gamma.fill_(0.5)
    return save_checkpoint(model, tmp_path / "fold01.pt"), model


def test_round_trip_rebuilds_the_same_network(meganet_ckpt: tuple[Path, torch.nn.Module]) -> None:
    path, model = meganet_ckpt
    config = json.loads(config_path(path).read_text())
    assert config_path(path).name == "fold01.json"
    assert config == {
        "format": "mesti-model", "format_version": 1, "mesti_version": mesti.__version__,
        "name": "meganet", "num_classes": 5, "in_chans": 3, "img_size": [64, 64],
        "kwargs": {"widths": [32, 64, 96], "use_ga": False},
    }
    restored = load_checkpoint(path, name="meganet", num_classes=5).eval()
    assert restored.model_info.input_size == (3, 64, 64)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(restored(x), model.eval()(x))
    assert sorted(p.name for p in path.parent.iterdir()) == ["fold01.json", "fold01.pt"]  # no temporary files left


def test_the_weights_file_is_a_plain_state_dict(meganet_ckpt: tuple[Path, torch.nn.Module]) -> None:
    path, model = meganet_ckpt
    state = torch.load(path, weights_only=True)
    assert isinstance(state, dict) and state.keys() == model.state_dict().keys()
    assert all(isinstance(v, torch.Tensor) for v in state.values())


class _RunsCode:
    """Unpickling this calls os.system: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_a_malicious_pickle_is_refused_without_running(meganet_ckpt: tuple[Path, torch.nn.Module], tmp_path: Path, writer: str) -> None:
    path, model = meganet_ckpt
    marker = tmp_path / "code_ran"
    payload = {**model.state_dict(), "fc.weight": _RunsCode(marker)}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    for load in (lambda: load_checkpoint(path), lambda: read_state_dict(path), lambda: create_model("meganet", 5, pretrained=path)):
        with pytest.raises(MestiError, match="refused: not a plain state dict"):
            load()
    assert not marker.exists()


def test_other_file_contents_are_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(MestiError, match="not a readable PyTorch state dict"):
        read_state_dict(empty)
    listed = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(MestiError, match="expected a state dict"):
        read_state_dict(listed)


def test_another_architecture_is_refused(meganet_ckpt: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    path, _ = meganet_ckpt
    with pytest.raises(MestiError, match="is a meganet checkpoint, not ststnet"):
        load_checkpoint(path, name="ststnet")
    with pytest.raises(MestiError, match="does not fit the ststnet model"):
        load_weights(create_model("ststnet", 5), path)
    # Same name, other options: the weights do not fit the layout the config describes.
    with pytest.raises(MestiError, match="does not fit the meganet model"):
        load_weights(create_model("meganet", 5, img_size=64), path)


def test_another_class_count_is_refused(meganet_ckpt: tuple[Path, torch.nn.Module]) -> None:
    path, _ = meganet_ckpt
    with pytest.raises(MestiError, match="holds a 5-class model; 3 classes were expected"):
        load_checkpoint(path, num_classes=3)
    with pytest.raises(MestiError, match="holds weights for 5 classes; the meganet model has 3"):
        load_weights(create_model("meganet", 3, widths=[32, 64, 96], use_ga=False), path)


def test_a_checkpoint_needs_its_config(meganet_ckpt: tuple[Path, torch.nn.Module]) -> None:
    path, _ = meganet_ckpt
    config_path(path).unlink()
    with pytest.raises(MestiError, match="no model config beside it"):
        load_checkpoint(path)
    config_path(path).write_text('{"format": "something else"}')
    with pytest.raises(MestiError, match="not a mesti model config"):
        load_checkpoint(path)


def test_only_factory_models_can_be_saved(tmp_path: Path) -> None:
    with pytest.raises(MestiError, match="create_model"):
        save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "x.pt")
