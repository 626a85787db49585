"""Reading clips: a folder of frames, a video file, or an array.

Frame folders are sorted naturally by the digits in their names (``img2`` before
``img10``): two public MER codes sort lexically and scramble time, which silently breaks
any temporal pooling.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from mesti.clips.clip import Clip
from mesti.errors import MestiError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})
VIDEO_SUFFIXES = frozenset({".avi", ".mp4", ".mov", ".mkv", ".mpg", ".mpeg", ".wmv", ".m4v", ".webm"})
# Files an operating system drops into folders; never frames, never an error.
_OS_JUNK = frozenset({"thumbs.db", "desktop.ini", ".ds_store"})

_DIGITS = re.compile(r"(\d+)")

# OpenCV's FFmpeg backend reads this when it first opens a video; its own log lines
# ("moov atom not found") would otherwise interleave with mesti's one-line messages.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


#: Frames larger than this many pixels are refused before they are decoded: MER frames are
#: at most a few megapixels (SAMM: 2040 x 1088), while a 12000 x 12000 PNG of a few hundred
#: KB decodes to 432 MB and a clip of them exhausts memory. ``MESTI_MAX_FRAME_PIXELS``
#: (0: no limit; ``mesti --allow-large-frames`` sets it) raises it.
DEFAULT_MAX_FRAME_PIXELS = 4096 * 4096
MAX_FRAME_PIXELS_ENV = "MESTI_MAX_FRAME_PIXELS"


def max_frame_pixels() -> int | None:
    """The frame size limit in pixels now in force, ``None`` for none."""
    text = os.environ.get(MAX_FRAME_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_FRAME_PIXELS
    try:
        value = int(text)
    except ValueError:
        raise MestiError(MAX_FRAME_PIXELS_ENV, f"{text!r} is not a whole number of pixels (0: no limit)") from None
    if value < 0:
        raise MestiError(MAX_FRAME_PIXELS_ENV, f"{value} must be 0 (no limit) or more")
    return value or None


def _check_size(w: int, h: int, path: Path, what: str) -> None:
    """:class:`MestiError` when a ``w x h`` frame is above the frame size limit (nothing decoded)."""
    limit = max_frame_pixels()
    if limit is not None and w * h > limit:
        raise MestiError(path, f"{what} of {w}x{h} pixels is above the limit of {limit:,} pixels; "
                               "pass mesti --allow-large-frames (or set MESTI_MAX_FRAME_PIXELS) to read it")


def open_video(path: str | Path) -> cv2.VideoCapture:
    """An opened OpenCV capture of ``path``, its frame size checked against the limit before a
    single frame is decoded (the container states it): a 3 MB MJPG of 5000 x 5000 frames would
    otherwise decode to gigabytes. :class:`MestiError` when it cannot be opened or is too large.
    The caller releases the capture."""
    path = Path(path)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise MestiError(path, "the video cannot be opened (unknown format or corrupt file)")
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
    try:
        _check_size(w, h, path, "video frame")
    except MestiError:
        cap.release()
        raise
    return cap


def declared_frames(cap: cv2.VideoCapture) -> int:
    """The frame count a video's header declares (0 when it declares none)."""
    value = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    return int(value) if value and value > 0 else 0


def truncation(decoded: int, declared: int) -> str | None:
    """Why a video that decodes fewer frames than its header declares is suspect, or ``None``."""
    if declared and decoded < declared:
        return f"the video ends early: {decoded} of the {declared} frames its header declares decode (truncated or damaged file)"
    return None


def natural_key(name: str) -> tuple[object, ...]:
    """Sort key that orders runs of digits by value: ``img2 < img10``, ``006_00099 < 006_00100``."""
    parts = _DIGITS.split(name)
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts))


def sorted_frame_paths(folder: str | Path) -> list[Path]:
    """The image files of ``folder`` in temporal (natural) order.

    Raises :class:`MestiError` for a missing or empty folder, or a file that is not an image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MestiError(folder, "no such folder")
    frames: list[Path] = []
    for p in folder.iterdir():
        if p.name.startswith(".") or p.name.lower() in _OS_JUNK or p.is_dir():
            continue
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            raise MestiError(p, "not an image file (expected one of " + ", ".join(sorted(IMAGE_SUFFIXES)) + ")")
        frames.append(p)
    if not frames:
        raise MestiError(folder, "the folder holds no image frames")
    return sorted(frames, key=lambda p: natural_key(p.name))


def read_image(path: str | Path) -> np.ndarray:
    """Decode one image to ``H x W x 3`` uint8 RGB.

    Pillow decodes it, keeping its decompression-bomb guard; grayscale frames (SAMM) are
    expanded to three equal channels so every encoder sees RGB.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():  # Pillow's bomb warning would print; the limit below says it in one line
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            _check_size(*im.size, path, "frame")  # from the header: nothing decoded yet
            im.load()
            rgb = im.convert("RGB")
    except MestiError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MestiError(path, f"cannot read the image ({exc.__class__.__name__}: {exc})") from None
    except Image.DecompressionBombError as exc:
        raise MestiError(path, f"refused: {exc}") from None
    return np.asarray(rgb, dtype=np.uint8)


def _stack(frames: list[np.ndarray], names: list[str], where: str) -> np.ndarray:
    shape = frames[0].shape
    for arr, name in zip(frames, names, strict=True):
        if arr.shape != shape:
            raise MestiError(where, f"frames differ in size: {names[0]} is {shape[1]}x{shape[0]}, {name} is {arr.shape[1]}x{arr.shape[0]}")
    return np.stack(frames)


def load_frame_folder(folder: str | Path, **clip_kwargs: object) -> Clip:
    """Read a folder of frames into a :class:`Clip` (see :func:`load_clip` for positions)."""
    paths = sorted_frame_paths(folder)
    arrays = [read_image(p) for p in paths]
    frames = _stack(arrays, [p.name for p in paths], str(folder))
    return _make_clip(frames, str(folder), meta={"frame_files": [p.name for p in paths]}, **clip_kwargs)


def load_video(path: str | Path, **clip_kwargs: object) -> Clip:
    """Read every frame of a video file with OpenCV into a :class:`Clip` (RGB)."""
    path = Path(path)
    if not path.is_file():
        raise MestiError(path, "no such file")
    cap = open_video(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        declared = declared_frames(cap)
        arrays: list[np.ndarray] = []
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            arrays.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    if not arrays:
        raise MestiError(path, "the video cannot be opened or holds no frames")
    frames = _stack(arrays, [f"frame {i}" for i in range(len(arrays))], str(path))
    clip_kwargs.setdefault("fps", fps if fps > 0 else 200.0)
    warning = truncation(len(arrays), declared)
    meta: dict[str, object] = {"declared_frames": declared, "warnings": [warning] if warning else []}
    return _make_clip(frames, str(path), meta=meta, **clip_kwargs)


def _make_clip(
    frames: np.ndarray,
    source: str,
    meta: dict[str, object],
    onset: int | None = None,
    apex: int | None = None,
    offset: int | None = None,
    **kwargs: object,
) -> Clip:
    n = frames.shape[0]
    if n < 2:
        raise MestiError(source, f"a clip needs at least 2 frames, got {n}")
    onset = 0 if onset is None else int(onset)
    offset = n - 1 if offset is None else int(offset)
    apex = (onset + offset) // 2 if apex is None else int(apex)
    kwargs.setdefault("source", source)
    return Clip(frames=frames, onset=onset, apex=apex, offset=offset, meta=meta, **kwargs)  # type: ignore[arg-type]


def load_clip(
    source: str | Path | np.ndarray,
    onset: int | None = None,
    apex: int | None = None,
    offset: int | None = None,
    **kwargs: object,
) -> Clip:
    """Read a clip from a frame folder, a video file or a ``T x H x W [x C]`` array.

    Positions are 0-based into the sorted frames. Defaults: onset the first frame, offset the
    last, apex the middle of onset..offset (what the paper does for SMIC, which has no apex).
    """
    if isinstance(source, np.ndarray):
        frames = source if source.ndim == 4 else source[..., None] if source.ndim == 3 else source
        if frames.ndim != 4:
            raise MestiError("<array>", f"expected T x H x W [x C], got shape {source.shape}")
        return _make_clip(frames, "<array>", {}, onset, apex, offset, **kwargs)
    path = Path(source)
    if path.is_dir():
        return load_frame_folder(path, onset=onset, apex=apex, offset=offset, **kwargs)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            raise MestiError(path, "a single image is not a clip: give the folder of frames or a video")
        return load_video(path, onset=onset, apex=apex, offset=offset, **kwargs)
    raise MestiError(path, "no such file or folder")
