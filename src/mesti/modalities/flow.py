"""TV-L1 optical flow between two key frames, optical strain, and their 3-channel images.

Flow comes from OpenCV's Dual TV-L1 (``cv2.optflow``, opencv-contrib) on 8-bit grayscale
frames at the clip's resolution: ``u`` positive to the right, ``v`` positive downward, in
pixels. The torch path computes the same flow with OpenCV (there is no TV-L1 in torch) and
does strain and scaling on the batch's device, so both paths give the same images.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch

from mesti.clips.clip import Clip
from mesti.errors import MestiError
from mesti.modalities.batch import ClipBatch
from mesti.modalities.scaling import check_range, scale_numpy, scale_torch

#: Flow (pixels) and strain (unitless) that reach full scale in ``symmetric`` scaling.
DEFAULT_FLOW_RANGE = 2.0
DEFAULT_STRAIN_RANGE = 0.25
CHANNEL_SETS = ("uvs", "uvm")
STRAIN_SCHEMES = ("backward", "forward", "central")


@dataclass(frozen=True)
class TVL1Params:
    """OpenCV Dual TV-L1 settings; the defaults are OpenCV's own."""

    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    nscales: int = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    gamma: float = 0.0
    median_filtering: int = 5

    def create(self) -> cv2.optflow.DualTVL1OpticalFlow:
        p = asdict(self)
        return cv2.optflow.DualTVL1OpticalFlow_create(
            tau=p["tau"],
            lambda_=p["lambda_"],
            theta=p["theta"],
            nscales=p["nscales"],
            warps=p["warps"],
            epsilon=p["epsilon"],
            innnerIterations=p["inner_iterations"],
            outerIterations=p["outer_iterations"],
            scaleStep=p["scale_step"],
            gamma=p["gamma"],
            medianFiltering=p["median_filtering"],
        )


def to_gray_u8(frame: np.ndarray) -> np.ndarray:
    """``H x W x C`` (uint8 or float on 0..255) to ``H x W`` uint8 luminance."""
    if frame.dtype != np.uint8:
        frame = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    if frame.ndim == 3 and frame.shape[-1] == 3:
        return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(frame.reshape(frame.shape[0], frame.shape[1]))


def tvl1_flow(first: np.ndarray, second: np.ndarray, params: TVL1Params | None = None) -> np.ndarray:
    """Dense flow from ``first`` to ``second`` as ``H x W x 2`` float32 (u, v) in pixels."""
    algo = (params or TVL1Params()).create()
    return algo.calc(to_gray_u8(first), to_gray_u8(second), None).astype(np.float32)


def _derivatives_numpy(f: np.ndarray, scheme: str) -> tuple[np.ndarray, np.ndarray]:
    """(d/dx, d/dy) of an ``H x W`` map in pixel units."""
    dx = np.zeros_like(f)
    dy = np.zeros_like(f)
    if scheme == "backward":  # os.m (Khor, STSTNet co-author): zero at the first row/column.
        dx[:, 1:] = f[:, 1:] - f[:, :-1]
        dy[1:, :] = f[1:, :] - f[:-1, :]
    elif scheme == "forward":  # zero at the last row/column.
        dx[:, :-1] = f[:, 1:] - f[:, :-1]
        dy[:-1, :] = f[1:, :] - f[:-1, :]
    elif scheme == "central":
        dy, dx = np.gradient(f)
    else:
        raise MestiError("strain", f"unknown derivative scheme {scheme!r}; choose one of {', '.join(STRAIN_SCHEMES)}")
    return dx.astype(np.float32), dy.astype(np.float32)


def optical_strain_numpy(flow: np.ndarray, scheme: str = "backward") -> np.ndarray:
    """Strain magnitude ``sqrt(u_x^2 + v_y^2 + 1/2 (u_y + v_x)^2)`` as ``H x W`` float32."""
    ux, uy = _derivatives_numpy(flow[..., 0], scheme)
    vx, vy = _derivatives_numpy(flow[..., 1], scheme)
    return np.sqrt(ux**2 + vy**2 + 0.5 * (uy + vx) ** 2).astype(np.float32)


def _derivatives_torch(f: torch.Tensor, scheme: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(d/dx, d/dy) of ``B x H x W`` maps; the batched twin of the numpy version."""
    dx = torch.zeros_like(f)
    dy = torch.zeros_like(f)
    if scheme == "backward":
        dx[:, :, 1:] = f[:, :, 1:] - f[:, :, :-1]
        dy[:, 1:, :] = f[:, 1:, :] - f[:, :-1, :]
    elif scheme == "forward":
        dx[:, :, :-1] = f[:, :, 1:] - f[:, :, :-1]
        dy[:, :-1, :] = f[:, 1:, :] - f[:, :-1, :]
    elif scheme == "central":
        dy, dx = torch.gradient(f, dim=(1, 2))
    else:
        raise MestiError("strain", f"unknown derivative scheme {scheme!r}; choose one of {', '.join(STRAIN_SCHEMES)}")
    return dx, dy


def optical_strain_torch(flow: torch.Tensor, scheme: str = "backward") -> torch.Tensor:
    """Strain magnitude of ``B x 2 x H x W`` flow as ``B x 1 x H x W``."""
    ux, uy = _derivatives_torch(flow[:, 0], scheme)
    vx, vy = _derivatives_torch(flow[:, 1], scheme)
    return torch.sqrt(ux**2 + vy**2 + 0.5 * (uy + vx) ** 2).unsqueeze(1)


def _check_channels(channels: str) -> None:
    if channels not in CHANNEL_SETS:
        raise MestiError("flow", f"unknown channels {channels!r}; choose 'uvs' (u, v, strain) or 'uvm' (u, v, magnitude)")


def _flow_scale_args(channels: str, flow_range: float, strain_range: float) -> dict[str, object]:
    flow_range, strain_range = check_range("flow_range", flow_range), check_range("strain_range", strain_range)
    third = strain_range if channels == "uvs" else flow_range
    return {"per_channel": True, "ranges": (flow_range, flow_range, third), "nonnegative": (False, False, True)}


def _flow_image_numpy(flow: np.ndarray, channels: str, strain_scheme: str) -> np.ndarray:
    _check_channels(channels)
    if channels == "uvs":
        third = optical_strain_numpy(flow, strain_scheme)
    else:
        third = np.hypot(flow[..., 0], flow[..., 1]).astype(np.float32)
    return np.concatenate([flow, third[..., None]], axis=-1)


def _flow_pair(clip: Clip, which: str) -> tuple[np.ndarray, np.ndarray]:
    if which == "onset_apex":
        return clip.frames[clip.onset], clip.frames[clip.apex]
    return clip.frames[clip.apex], clip.frames[clip.offset]


def flow_numpy(
    clip: Clip,
    which: str = "onset_apex",
    channels: str = "uvs",
    scale: str = "minmax",
    strain_scheme: str = "backward",
    flow_range: float = DEFAULT_FLOW_RANGE,
    strain_range: float = DEFAULT_STRAIN_RANGE,
    tvl1: TVL1Params | None = None,
) -> np.ndarray:
    """Flow image ``H x W x 3`` float32: (u, v, strain) or (u, v, magnitude).

    ``minmax`` scales each channel separately to 0..255 (what STSTNet's shipped data show);
    ``symmetric`` maps ``+-flow_range`` pixels to 0..255 (strain ``0..strain_range``);
    ``raw`` keeps pixels and strain.
    """
    _check_channels(channels)
    flow = tvl1_flow(*_flow_pair(clip, which), params=tvl1)
    img = _flow_image_numpy(flow, channels, strain_scheme)
    return scale_numpy(img, scale, **_flow_scale_args(channels, flow_range, strain_range))  # type: ignore[arg-type]


def _batch_flows(batch: ClipBatch, which: str, tvl1: TVL1Params | None) -> torch.Tensor:
    """``B x 2 x H x W`` TV-L1 flow of each clip's key-frame pair (OpenCV on the CPU)."""
    first_idx = torch.zeros_like(batch.apex) if which == "onset_apex" else batch.apex
    second_idx = batch.apex if which == "onset_apex" else batch.lengths - 1
    first = batch.frame_at(first_idx).permute(0, 2, 3, 1).cpu().numpy()
    second = batch.frame_at(second_idx).permute(0, 2, 3, 1).cpu().numpy()
    flows = [tvl1_flow(a, b, tvl1) for a, b in zip(first, second, strict=True)]
    return torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2).to(batch.device)


def flow_torch(
    batch: ClipBatch,
    which: str = "onset_apex",
    channels: str = "uvs",
    scale: str = "minmax",
    strain_scheme: str = "backward",
    flow_range: float = DEFAULT_FLOW_RANGE,
    strain_range: float = DEFAULT_STRAIN_RANGE,
    tvl1: TVL1Params | None = None,
) -> torch.Tensor:
    """Batched twin of :func:`flow_numpy`: ``B x 3 x H x W`` float32."""
    _check_channels(channels)
    flow = _batch_flows(batch, which, tvl1)
    if channels == "uvs":
        third = optical_strain_torch(flow, strain_scheme)
    else:
        third = torch.hypot(flow[:, 0], flow[:, 1]).unsqueeze(1)
    img = torch.cat([flow, third], dim=1)
    return scale_torch(img, scale, **_flow_scale_args(channels, flow_range, strain_range))  # type: ignore[arg-type]


def strain_numpy(
    clip: Clip,
    scale: str = "minmax",
    strain_scheme: str = "backward",
    strain_range: float = DEFAULT_STRAIN_RANGE,
    tvl1: TVL1Params | None = None,
) -> np.ndarray:
    """Optical strain of the onset->apex flow, ``H x W x 1`` float32 (0..255 unless raw)."""
    flow = tvl1_flow(*_flow_pair(clip, "onset_apex"), params=tvl1)
    s = optical_strain_numpy(flow, strain_scheme)[..., None]
    return scale_numpy(s, scale, ranges=strain_range, nonnegative=True)


def strain_torch(
    batch: ClipBatch,
    scale: str = "minmax",
    strain_scheme: str = "backward",
    strain_range: float = DEFAULT_STRAIN_RANGE,
    tvl1: TVL1Params | None = None,
) -> torch.Tensor:
    """Batched twin of :func:`strain_numpy`: ``B x 1 x H x W`` float32."""
    s = optical_strain_torch(_batch_flows(batch, "onset_apex", tvl1), strain_scheme)
    return scale_torch(s, scale, ranges=strain_range, nonnegative=True)
