"""The pipeline's one resolver and its one file schema (versioned; older files converted exactly or refused)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mesti.errors import MestiError
from mesti.pipeline import (PIPELINE_VERSION, Pipeline, pipeline_to_dict, read_pipeline, resolve_input, resolve_pipeline,
                            write_pipeline)
from mesti.preprocessing import PREPROCESS_VERSION, PreprocessConfig

#: A fold checkpoint's pipeline as mesti wrote it before the schema had a version (version 0).
V0 = {"classes": ["negative", "positive", "surprise"], "modality": "mesti", "modality_options": {"scale": "symmetric"},
      "preprocess": {"face": "none", "equalize": "frame", "size": 32, "version": PREPROCESS_VERSION},
      "normalize": {"mean": [1.5, 2.0, 3.25], "std": [4.0, 5.0, 6.5]}, "input_size": [3, 28, 28],
      "trained_on_fold": "sub01", "test_subjects": ["casme2/sub01"]}


def test_the_resolver_takes_the_network_input_from_the_model_and_its_options() -> None:
    assert resolve_input("ststnet") == ((3, 28, 28), {})
    assert resolve_input("meganet", {"in_chans": 1}, 64) == ((1, 64, 64), {})
    pipe = resolve_pipeline("micro_attention", img_size=40, classes=("a", "b"), modality="apex",
                            preprocess=PreprocessConfig(face="none", size=24))
    assert pipe.input_size == (1, 40, 40) and pipe.image_shape == (24, 24, 3)
    fitted = pipe.fit(torch.rand(2, 3, 24, 24))
    assert fitted.shape == (2, 1, 40, 40)
    with pytest.raises(MestiError, match="--img-size"):
        resolve_input("ststnet", img_size=2)


def test_a_pipeline_file_without_a_version_is_converted_exactly(tmp_path: Path) -> None:
    path = tmp_path / "fold.pipeline.json"
    path.write_text(json.dumps(V0))
    pipe = read_pipeline(path)
    assert isinstance(pipe, Pipeline) and pipe.preprocess == PreprocessConfig(face="none", size=32)
    assert pipe.normalize is not None and pipe.normalize.mean == (1.5, 2.0, 3.25)
    assert pipe.fold == "sub01" and pipe.test_subjects == ("casme2/sub01",)
    assert pipeline_to_dict(pipe) == {"pipeline_version": PIPELINE_VERSION, **V0}  # nothing lost, nothing added but the version
    write_pipeline(tmp_path / "again.json", pipe)
    assert read_pipeline(tmp_path / "again.json") == pipe


@pytest.mark.parametrize(("change", "words"), [
    ({"pipeline_version": PIPELINE_VERSION + 1}, f"pipeline version {PIPELINE_VERSION + 1} was written by a newer mesti"),
    ({"pipeline_version": "one"}, "is not a version number"),
    ({"preprocess": {**V0["preprocess"], "version": "1"}}, "face preprocessing version 1"),  # type: ignore[dict-item]
    ({"preprocess": {**V0["preprocess"], "blur": 3}}, "unknown setting"),  # type: ignore[dict-item]
])
def test_a_pipeline_file_that_cannot_be_read_exactly_is_refused_naming_file_and_version(
        tmp_path: Path, change: dict[str, object], words: str) -> None:
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps({**V0, **change}))
    with pytest.raises(MestiError, match=words) as err:
        read_pipeline(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("resize", [None, 40])
def test_a_pipeline_of_precomputed_images_keeps_its_resize_and_refuses_clips(resize: int | None, tmp_path: Path) -> None:
    from mesti.clips.clip import Clip
    from mesti.pipeline import PRECOMPUTED

    pipe = resolve_pipeline("ststnet", classes=("a", "b"), modality=PRECOMPUTED, preprocess={"resize": resize})
    assert pipe.resize == resize and pipe.preprocess is None
    trained = pipe.trained({"mean": [0.0] * 3, "std": [1.0] * 3})
    write_pipeline(tmp_path / "p.json", trained)
    assert json.loads((tmp_path / "p.json").read_text())["preprocess"] == {"resize": resize}
    assert read_pipeline(tmp_path / "p.json") == trained
    with pytest.raises(MestiError, match="precomputed images: give it an image"):
        trained(Clip(torch.zeros(3, 8, 8, 3).numpy(), 0, 1, 2))
