"""Every training choice in one dataclass; the run directory stores it resolved (YAML)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
import math
from typing import Any

from mesti.errors import MestiError
from mesti.engine.losses import LOSSES
from mesti.engine.optimizers import OPTIMIZERS
from mesti.utils.devices import check_device
from mesti.utils.ranges import SEED, check_number


#: Options the command line gives as flags: a message names the flag and the grid-file key.
_FLAGS = ("epochs", "batch_size", "lr", "val_fraction", "seed", "device", "recipe")
_TYPES = {"epochs": int, "batch_size": int, "lr": float, "weight_decay": float, "optimizer": str, "loss": str,
          "focal_gamma": float, "flip": bool, "normalize": str, "val_fraction": float, "patience": int, "seed": int,
          "device": str, "amp": bool, "channels_last": bool, "recipe": str, "crop": float, "report_oracle": bool}


def _where(name: str) -> str:
    """``--batch-size / training.batch_size``: the flag on the command line, the key in a grid file."""
    return f"--{name.replace('_', '-')} / training.{name}" if name in _FLAGS else f"training.{name}"


@dataclass
class TrainConfig:
    """docs/method.md, Training by default: focal loss, Adam 1e-3, weight decay 1e-4, 50 epochs,
    batch 32, horizontal flip and rotations of +-5 / +-10 degrees.

    ``val_fraction`` > 0 carves a validation split from the training subjects only, used for
    early stopping (``patience`` epochs); otherwise the model after the last epoch is
    evaluated. Nothing here ever reads the test fold.

    ``report_oracle`` also records each fold's test predictions at every epoch, so the run
    can report beside its honest figure the leaky one that choosing each fold's best epoch
    on its test subject would give (docs/protocols.md); no choice of the trainer reads them.
    """

    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: str = "adam"
    loss: str = "focal"
    focal_gamma: float = 2.0
    flip: bool = True
    rotations: list[float] = field(default_factory=lambda: [-10.0, -5.0, 0.0, 5.0, 10.0])
    normalize: str = "train_mean_std"
    val_fraction: float = 0.0
    patience: int = 10
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    channels_last: bool = True
    recipe: str = "paper"
    crop: float = 1.0  # random training crops keep this fraction of each side (1: none)
    report_oracle: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):  # a grid file's "0.1" (text) or 1.5 epochs is refused by name, not by a TypeError
            kind = _TYPES.get(f.name)
            value = getattr(self, f.name)
            if kind in (int, float):
                setattr(self, f.name, check_number(value, kind, f.name, _where(f.name)))
            elif kind is bool and not isinstance(value, bool):
                raise MestiError(_where(f.name), f"must be true or false, got {value!r}")
            elif kind is str and not isinstance(value, str):
                raise MestiError(_where(f.name), f"must be a name, got {value!r}")
        if not isinstance(self.rotations, list | tuple) or not self.rotations:
            raise MestiError("training.rotations", f"must list angles in degrees, got {self.rotations!r}")
        for angle in self.rotations:
            check_number(angle, float, "an angle", "training.rotations")
        OPTIMIZERS.get(self.optimizer)  # an unknown name: the registries' one error, listing the valid names
        LOSSES.get(self.loss)
        checks = [
            (self.epochs >= 1, "epochs", "must be at least 1"),
            (self.batch_size >= 1, "batch_size", "must be at least 1"),
            (self.lr > 0 and math.isfinite(self.lr), "lr", "must be a positive number"),
            (self.weight_decay >= 0 and math.isfinite(self.weight_decay), "weight_decay", "must be 0 or more"),
            (self.focal_gamma >= 0 and math.isfinite(self.focal_gamma), "focal_gamma", "must be 0 or more"),
            (self.patience >= 1, "patience", "must be at least 1"),
            (0 <= self.val_fraction < 1, "val_fraction", "must lie in [0, 1)"),
            (self.normalize in ("train_mean_std", "unit", "none"), "normalize", "must be train_mean_std, unit or none"),
            (self.recipe in ("paper", "native"), "recipe", "must be paper or native"),
            (0 < self.crop <= 1, "crop", "must lie in (0, 1]: the fraction of each side a random crop keeps"),
        ]
        for ok, name, what in checks:
            if not ok:
                raise MestiError(_where(name), f"{getattr(self, name)!r} {what}")
        self.seed = SEED.check(self.seed, _where("seed"))
        check_device(self.device, "training.device")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise MestiError("training", f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**data)

    def with_native_recipe(self, recipe: dict[str, Any] | None, model: str) -> TrainConfig:
        """The published network's own recipe (e.g. STSTNet: Adam 5e-5, batch 256, 500 epochs,
        cross-entropy, no augmentation; Micro-Attention: random 224 crops of a 240 resize, as
        ``random_crop: {resize: 240, crop: 224}``) in place of the paper's.

        A point the recipe leaves ``None`` (its source does not state it) keeps the paper's:
        ``augment: None`` keeps the paper's augmentation, ``augment: "none"`` means none."""
        if not recipe:
            raise MestiError("--recipe native", f"model {model!r} has no published recipe; use --recipe paper")
        data = self.to_dict()
        for key in ("optimizer", "lr", "weight_decay", "batch_size", "epochs"):
            if key in recipe and recipe[key] is not None:
                data[key] = recipe[key]
        loss = str(recipe.get("loss") or data["loss"]).replace("-", "_").lower()
        data["loss"] = "cross_entropy" if loss in ("ce", "cross_entropy", "crossentropy") else loss
        augment, crop = recipe.get("augment"), recipe.get("random_crop")
        if crop:  # e.g. Micro-Attention: resize to 240, random 224 crops, no mirroring; test images whole
            data["flip"], data["rotations"], data["crop"] = False, [0.0], float(crop["crop"]) / float(crop["resize"])
        elif augment in (False, "none", []):
            data["flip"], data["rotations"] = False, [0.0]
        elif augment is not None:
            raise MestiError("--recipe native", f"{model}'s own augmentation ({augment}) is not available here; use --recipe paper")
        data["recipe"] = "native"
        return TrainConfig.from_dict(data)

    @classmethod
    def for_model(cls, options: dict[str, Any], model: str) -> TrainConfig:
        """The one place a study's training options become a config: ``recipe: native`` takes
        ``model``'s published recipe, and any option given explicitly overrides it."""
        options = dict(options)
        recipe = options.pop("recipe", "paper")
        base = cls.from_dict(options)
        if recipe == "paper":
            return base
        if recipe != "native":
            raise MestiError("training.recipe", f"{recipe!r} must be paper or native")
        from mesti.models import get_model_info

        native = base.with_native_recipe(dict(get_model_info(model).native_recipe or {}), model)
        return cls.from_dict({**native.to_dict(), **options, "recipe": "native"})

