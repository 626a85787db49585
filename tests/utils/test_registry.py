from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from mesti.models import create_model
from mesti.modalities import get_modality
from mesti.protocols import create_protocol
from mesti.engine.config import TrainConfig
from mesti.engine.losses import create_loss
from mesti.utils.registry import Registry


def _colours() -> Registry[Callable[..., str]]:
    reg: Registry[Callable[..., str]] = Registry("colour", "--colour")

    @reg.register("red")
    def red(shade: int = 1) -> str:
        """A warm colour."""
        return f"red{shade}"

    reg.register("blue", lambda: "blue", description="A cold colour.")
    reg.register("dark_blue", lambda: "dark blue")
    return reg


def test_register_list_create_describe() -> None:
    reg = _colours()
    assert reg.list() == ["blue", "dark_blue", "red"]
    assert reg.list("*blue") == ["blue", "dark_blue"]
    assert "red" in reg and "green" not in reg and len(reg) == 3
    assert reg.create("red", shade=2) == "red2"
    assert reg.describe("red") == "A warm colour."  # the docstring's first line
    assert reg.describe("blue") == "A cold colour."  # the registered description wins
    with pytest.raises(ValueError, match="already registered"):
        reg.register("red", lambda: "again")


def test_unknown_names_and_bad_options_are_one_line_errors() -> None:
    reg = _colours()
    with pytest.raises(MestiError, match=r"^--colour: unknown colour 'green'; choose one of blue, dark_blue, red$"):
        reg.get("green")
    with pytest.raises(MestiError, match="unknown colour"):
        reg.get(["red"])  # type: ignore[arg-type]  # e.g. a list where a grid file wants a name
    with pytest.raises(MestiError, match=r"^colour red: takes no option .hue."):
        reg.create("red", hue=3)


def test_lazy_entries_import_their_module_on_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg: Registry[str] = Registry("thing", "--thing")
    monkeypatch.setattr(sys.modules[__name__], "LAZY_REGISTRY", reg, raising=False)
    (tmp_path / "lazy_thing_mod.py").write_text(
        f"import {__name__} as host\nhost.LAZY_REGISTRY.register('late', 'loaded')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    reg.register_lazy("late", "lazy_thing_mod")
    reg.register_lazy("broken", "json")  # a module that registers nothing
    assert reg.list() == ["broken", "late"] and "lazy_thing_mod" not in sys.modules
    assert reg.get("late") == "loaded" and "lazy_thing_mod" in sys.modules
    with pytest.raises(RuntimeError, match="did not register"):
        reg.get("broken")
    monkeypatch.delitem(sys.modules, "lazy_thing_mod")


@pytest.mark.parametrize(
    "call,flag,kind,valid",
    [
        (lambda: create_model("nope", 3), "--model", "model", "meganet"),
        (lambda: get_modality("nope"), "--modality", "modality", "mesti"),
        (lambda: create_dataset("nope", "."), "--dataset", "dataset", "casme2"),
        (lambda: create_protocol("nope"), "protocol", "protocol", "loso"),
        (lambda: create_loss("nope"), "training.loss", "loss", "focal"),
        (lambda: TrainConfig(optimizer="nope"), "training.optimizer", "optimizer", "adam"),
    ],
)
def test_every_registry_refuses_an_unknown_name_the_same_way(call: Callable[[], object], flag: str, kind: str, valid: str) -> None:
    with pytest.raises(MestiError) as info:
        call()
    assert info.value.where == flag
    assert info.value.what.startswith(f"unknown {kind} 'nope'; choose one of ") and valid in info.value.what
