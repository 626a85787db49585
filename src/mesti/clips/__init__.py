"""What a clip is (:class:`Clip`) and how one is read from frames, a video or an array."""

from mesti.clips.clip import Clip
from mesti.clips.io import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    load_clip,
    load_frame_folder,
    load_video,
    natural_key,
    read_image,
    sorted_frame_paths,
)

__all__ = [
    "Clip",
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "load_clip",
    "load_frame_folder",
    "load_video",
    "natural_key",
    "read_image",
    "sorted_frame_paths",
]
