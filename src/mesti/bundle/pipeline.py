"""The pipeline record: what turns a clip into the tensor a trained network expects.

One record serves every trained artefact (a fold checkpoint's ``X.pipeline.json`` and a
bundle's ``pipeline.json``), so a clip is preprocessed, encoded and normalised exactly as
in training, whichever artefact predicts it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesti.errors import MestiError
from mesti.utils.atomic import write_json
from mesti.utils.ranges import check_number


@dataclass(frozen=True)
class Pipeline:
    """Classes, modality and its options, face preprocessing, normalisation, input size.

    ``fold`` and ``test_subjects`` are set for a fold checkpoint (which subjects it never
    saw); a model trained on every subject leaves them empty.
    """

    classes: tuple[str, ...]
    modality: str | None
    modality_options: dict[str, Any]
    preprocess: dict[str, Any] | None
    normalize: dict[str, list[float]]
    input_size: tuple[int, int, int]
    fold: str | None = None
    test_subjects: list[str] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "classes": list(self.classes), "modality": self.modality, "modality_options": dict(self.modality_options),
            "preprocess": self.preprocess, "normalize": self.normalize, "input_size": list(self.input_size),
        }
        if self.fold is not None:
            data["trained_on_fold"] = self.fold
            data["test_subjects"] = self.test_subjects
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str | Path = "pipeline") -> Pipeline:
        """Validate a pipeline read from JSON; anything malformed names ``where``."""
        if not isinstance(data, dict):
            raise MestiError(where, "not a pipeline record (a JSON object is expected)")
        missing = [k for k in ("classes", "modality", "normalize", "input_size") if k not in data]
        if missing:
            raise MestiError(where, f"pipeline lacks {', '.join(missing)}")
        classes = data["classes"]
        if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes) \
                or len(set(classes)) != len(classes):
            raise MestiError(where, "pipeline 'classes' must be a non-empty list of distinct names")
        size = data["input_size"]
        if not isinstance(size, list) or len(size) != 3 or not all(isinstance(s, int) and s > 0 for s in size):
            raise MestiError(where, f"pipeline 'input_size' must be [C, H, W], got {size!r}")
        norm = data["normalize"]
        if not isinstance(norm, dict) or any(not isinstance(norm.get(k), list) or len(norm[k]) != size[0]
                                             for k in ("mean", "std")):
            raise MestiError(where, f"pipeline 'normalize' must hold {size[0]} means and stds")
        mean = [check_number(v, float, "a normalisation mean", where) for v in norm["mean"]]
        std = [check_number(v, float, "a normalisation std", where, gt=0) for v in norm["std"]]
        modality, options, preprocess = data["modality"], data.get("modality_options") or {}, data.get("preprocess")
        if modality is not None and not isinstance(modality, str):
            raise MestiError(where, f"pipeline 'modality' must be a name, got {modality!r}")
        if not isinstance(options, dict) or not (preprocess is None or isinstance(preprocess, dict)):
            raise MestiError(where, "pipeline 'modality_options' and 'preprocess' must be JSON objects")
        return cls(tuple(classes), modality, dict(options), preprocess, {"mean": mean, "std": std},
                   (size[0], size[1], size[2]), data.get("trained_on_fold"), data.get("test_subjects"))

    @classmethod
    def read(cls, path: str | Path) -> Pipeline:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MestiError(path, "missing (the pipeline of a trained model)") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise MestiError(path, f"not valid JSON ({exc})") from None
        return cls.from_dict(data, path)

    def write(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict())

    def check_model(self, config: dict[str, Any], where: str | Path) -> None:
        """Refuse a network whose classes or input disagree with this pipeline."""
        if config["num_classes"] != len(self.classes):
            raise MestiError(where, f"the network has {config['num_classes']} outputs but its pipeline names "
                                    f"{len(self.classes)} classes ({', '.join(self.classes)})")
        c, h, w = self.input_size
        if config["in_chans"] != c or list(config["img_size"]) != [h, w]:
            raise MestiError(where, f"the network takes {config['in_chans']} x {config['img_size'][0]} x "
                                    f"{config['img_size'][1]} but its pipeline feeds {c} x {h} x {w}")

    def same_inputs(self, other: Pipeline) -> bool:
        """Whether a clip is encoded the same way for both (normalisation may differ)."""
        keys = ("classes", "modality", "modality_options", "preprocess", "input_size")
        return all(getattr(self, k) == getattr(other, k) for k in keys)
