"""Every training choice in one dataclass; the run directory stores it resolved (YAML)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from mesti.errors import MestiError


@dataclass
class TrainConfig:
    """docs/method.md, Training by default: focal loss, Adam 1e-3, weight decay 1e-4, 50 epochs,
    batch 32, horizontal flip and rotations of +-5 / +-10 degrees.

    ``val_fraction`` > 0 carves a validation split from the training subjects only, used for
    early stopping (``patience`` epochs); otherwise the model after the last epoch is
    evaluated. Nothing here ever reads the test fold.
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

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, "epochs", "must be at least 1"),
            (self.batch_size >= 1, "batch_size", "must be at least 1"),
            (self.lr > 0, "lr", "must be positive"),
            (self.optimizer in ("adam", "sgd"), "optimizer", "must be adam or sgd"),
            (self.loss in ("focal", "cross_entropy"), "loss", "must be focal or cross_entropy"),
            (0 <= self.val_fraction < 1, "val_fraction", "must lie in [0, 1)"),
            (self.normalize in ("train_mean_std", "unit", "none"), "normalize", "must be train_mean_std, unit or none"),
            (self.recipe in ("paper", "native"), "recipe", "must be paper or native"),
        ]
        for ok, name, what in checks:
            if not ok:
                raise MestiError(f"training.{name}", f"{getattr(self, name)!r} {what}")

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
        cross-entropy, no augmentation) in place of the paper's."""
        if not recipe:
            raise MestiError("--recipe native", f"model {model!r} has no published recipe; use --recipe paper")
        data = self.to_dict()
        for key in ("optimizer", "lr", "weight_decay", "batch_size", "epochs"):
            if key in recipe and recipe[key] is not None:
                data[key] = recipe[key]
        loss = str(recipe.get("loss", data["loss"])).replace("-", "_").lower()
        data["loss"] = "cross_entropy" if loss in ("ce", "cross_entropy", "crossentropy") else loss
        augment = recipe.get("augment")
        if augment in (False, None, "none", []):
            data["flip"], data["rotations"] = False, [0.0]
        else:  # e.g. Micro-Attention's random 224 crops of a 240 resize: not something this trainer does
            raise MestiError("--recipe native", f"{model}'s own augmentation ({augment}) is not available here; use --recipe paper")
        data["recipe"] = "native"
        return TrainConfig.from_dict(data)
