"""The executable input pipeline: a clip -> face crops -> one encoded image -> the network input.

One :class:`Pipeline` object does every step for every caller: the cache builder (``prepare``)
calls :meth:`Pipeline.prepare` and :meth:`Pipeline.encode`, training fits the cached images to
the network with :meth:`Pipeline.fit`, and ``predict``, ``analyze`` and the spotter's classifier
call the whole chain (:meth:`Pipeline.__call__`, or :meth:`Pipeline.crop_for` for frames cut
from a stream). Built by :func:`~mesti.pipeline.resolve.resolve_pipeline` from the model's and
the modality's declared needs, so training and inference cannot assemble it differently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mesti.clips.clip import Clip
from mesti.errors import MestiError
from mesti.modalities import encode, get_modality
from mesti.preprocessing.config import PreprocessConfig

#: The modality name of a run trained on images given as they are (a manifest of images).
PRECOMPUTED = "precomputed images"
#: ``crop_for(interval_index, onset_frame)`` -> the function applied to each of its frames.
CropFactory = Callable[[int, np.ndarray], Callable[[np.ndarray], np.ndarray]]


def fit_input(x: Tensor, size: tuple[int, int] | None, channels: int | None) -> Tensor:
    """Resize ``N x C x H x W`` images to the model's input size and match its channel count."""
    if channels is not None and x.shape[1] != channels:
        if channels == 1:
            x = x.mean(dim=1, keepdim=True)
        elif x.shape[1] == 1:
            x = x.expand(-1, channels, -1, -1)
        else:
            x = x[:, :channels]
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return x.contiguous()


@dataclass(frozen=True)
class Normalization:
    """Per-channel mean and std a trained network's inputs are normalised with (a fold's
    training statistics, or the fixed ones of ``--normalize unit``/``none``)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def of(cls, norm: Mapping[str, Any]) -> Normalization:
        """From a fold's record ``{"mean": [...], "std": [...]}``."""
        return cls(tuple(float(v) for v in norm["mean"]), tuple(float(v) for v in norm["std"]))

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}


@dataclass(frozen=True)
class Pipeline:
    """Everything that turns a clip into the tensor a network takes, and the steps themselves.

    ``preprocess``: the face step, crop size and equalisation (``None``: frames encoded as
    they are); ``modality`` and ``modality_options``: the encoder (``PRECOMPUTED``: images
    given as they are, ``resize`` their side when they were resized); ``input_size``: the
    network's ``C x H x W`` (``None`` for the cache's half of the pipeline, which stops at the
    encoded image); ``normalize``: set once trained. ``fold`` and ``test_subjects`` name a fold
    checkpoint's fold and the subjects it never saw.
    """

    modality: str | None
    modality_options: Mapping[str, Any] = field(default_factory=dict)
    preprocess: PreprocessConfig | None = None
    input_size: tuple[int, int, int] | None = None
    classes: tuple[str, ...] = ()
    normalize: Normalization | None = None
    resize: int | None = None
    fold: str | None = None
    test_subjects: tuple[str, ...] | None = None

    # -- the clip half (the cache stores its output) ---------------------------------------------

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``H x W x C`` of an encoded image: the crop size and the modality's channels."""
        if self.preprocess is None or not self.modality or self.modality == PRECOMPUTED:
            raise MestiError(self.modality or "pipeline", "has no fixed image size (no face preprocessing)")
        return self.preprocess.size, self.preprocess.size, get_modality(self.modality).channels

    def prepare(self, clip: Clip, cropped: bool = False) -> Clip:
        """The face step and equalisation. ``cropped``: the frames already are this pipeline's
        face crops (cut frame by frame from a stream, :meth:`crop_for`), so only equalisation
        (and a resize that changes nothing) is left."""
        from mesti.preprocessing.face import FacePreprocessor

        if self.preprocess is None:
            return clip
        config = replace(self.preprocess, face="none") if cropped else self.preprocess
        return FacePreprocessor(config)(clip)

    def encode(self, clip: Clip) -> np.ndarray:
        """The prepared clip as the modality's image, float32 ``H x W x C``."""
        if not self.modality or self.modality == PRECOMPUTED:
            raise MestiError(clip.name, "the model was trained on precomputed images: give it an image, not a clip")
        return np.asarray(encode(clip, self.modality, **dict(self.modality_options)), dtype=np.float32)

    def image(self, clip: Clip, cropped: bool = False) -> np.ndarray:
        """:meth:`prepare` then :meth:`encode`: what the cache stores for a clip."""
        return self.encode(self.prepare(clip, cropped))

    def crop_for(self, name: str) -> CropFactory | None:
        """The face crop frame by frame, for frames read from a stream: the face found on an
        interval's onset frame gives one transform for all its frames (as :meth:`prepare` does
        for a whole clip), or a plain resize with ``face='none'``. ``None`` when nothing is cropped."""
        from mesti.preprocessing.align import resize_frames, warp_frames
        from mesti.preprocessing.face import FacePreprocessor

        cfg = self.preprocess
        if cfg is None:
            return None

        def crop_for(i: int, onset: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
            if cfg.face == "none":
                return lambda f: resize_frames(f[None], cfg.size)[0]
            probe = Clip(np.stack([onset, onset]), 0, 0, 1, clip_id=f"{name}: interval {i + 1}")
            matrix, _ = FacePreprocessor(cfg).transform(probe)
            return lambda f: warp_frames(f[None], matrix, cfg.size)[0]

        return crop_for

    # -- the network half ------------------------------------------------------------------------

    @property
    def fit_size(self) -> tuple[int, int, int]:
        """The network's ``C x H x W`` (refused for the cache's half, which has none)."""
        return self._size()

    def _size(self) -> tuple[int, int, int]:
        if self.input_size is None:
            raise MestiError(self.modality or "pipeline", "names no network input size (it is the cache's pipeline)")
        return self.input_size

    def fit(self, images: Tensor) -> Tensor:
        """``N x C x H x W`` encoded images resized and channel-matched to the network's input."""
        c, h, w = self._size()
        return fit_input(images, (h, w), c)

    def normalise(self, x: Tensor) -> Tensor:
        """Fitted images normalised with the trained statistics."""
        if self.normalize is None:
            raise MestiError(self.modality or "pipeline", "holds no normalisation (not trained yet)")
        mean = torch.tensor(self.normalize.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.normalize.std).view(1, -1, 1, 1)
        return (x - mean) / std

    def network_input(self, image: np.ndarray, name: str = "model") -> Tensor:
        """One encoded image (``H x W x C``) as the network's ``1 x C x H x W`` input; NaN or
        infinite values are refused, naming ``name``."""
        array = np.asarray(image, dtype=np.float32)
        if array.ndim != 3:
            raise MestiError(name, f"an encoded image is H x W x C, got shape {array.shape}")
        if not np.isfinite(array).all():
            raise MestiError(name, "the image holds NaN or infinite values")
        return self.normalise(self.fit(torch.from_numpy(array).permute(2, 0, 1)[None]))

    def __call__(self, clip: Clip, cropped: bool = False) -> Tensor:
        """The whole chain: a clip as the trained network's ``1 x C x H x W`` input."""
        return self.network_input(self.image(clip, cropped), clip.name)

    # -- bookkeeping -----------------------------------------------------------------------------

    def trained(self, norm: Mapping[str, Any], fold: str | None = None,
                test_subjects: list[str] | tuple[str, ...] | None = None) -> Pipeline:
        """This pipeline with a trained network's normalisation (and its fold)."""
        subjects = None if test_subjects is None else tuple(test_subjects)
        return replace(self, normalize=Normalization.of(norm), fold=fold, test_subjects=subjects)

    def check_model(self, config: Mapping[str, Any], where: object) -> None:
        """Refuse a network whose classes or input disagree with this pipeline."""
        if config["num_classes"] != len(self.classes):
            raise MestiError(where, f"the network has {config['num_classes']} outputs but its pipeline names "
                                    f"{len(self.classes)} classes ({', '.join(self.classes)})")
        c, h, w = self._size()
        if config["in_chans"] != c or list(config["img_size"]) != [h, w]:
            raise MestiError(where, f"the network takes {config['in_chans']} x {config['img_size'][0]} x "
                                    f"{config['img_size'][1]} but its pipeline feeds {c} x {h} x {w}")

    def same_inputs(self, other: Pipeline) -> bool:
        """Whether a clip is encoded the same way for both (normalisation may differ)."""
        keys = ("classes", "modality", "modality_options", "preprocess", "resize", "input_size")
        return all(getattr(self, k) == getattr(other, k) for k in keys)
