"""A tiny CASME II release written at test time: ``sub01/EP01_01f/img{n}.jpg`` + ``coding.xlsx``.

The sheet has the real sheet's columns, blank headers included (pandas reads them as
``Unnamed: 2`` and ``Unnamed: 6``), so the real adapter reads it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from openpyxl import Workbook
from PIL import Image

from tests.conftest import moving_clip

HEADER = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units", "Estimated Emotion"]


@dataclass(frozen=True)
class FakeClip:
    subject: int
    filename: str
    emotion: str
    onset: int = 10
    length: int = 6
    apex_offset: int = 2  # apex = onset + apex_offset
    frames: np.ndarray | None = None  # T x H x W x 3 uint8; default: a drifting texture

    @property
    def folder(self) -> str:
        return f"sub{self.subject:02d}/{self.filename}"

    @property
    def key(self) -> str:
        return f"casme2/sub{self.subject:02d}/{self.filename}"


DEFAULT_CLIPS = (
    FakeClip(1, "EP01_01f", "happiness"),
    FakeClip(1, "EP02_01f", "disgust"),
    FakeClip(2, "EP01_02f", "surprise"),
    FakeClip(2, "EP03_01", "repression"),
    FakeClip(3, "EP05_02f", "others"),
    FakeClip(3, "EP06_01f", "sadness"),  # outside both class sets
)


def write_tree(root: Path, clips: tuple[FakeClip, ...] = DEFAULT_CLIPS, size: int = 40) -> Path:
    """Write frames and ``coding.xlsx`` for ``clips`` under ``root``; returns ``root``."""
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for i, c in enumerate(clips):
        frames = c.frames if c.frames is not None else moving_clip(c.length, c.apex_offset, size, amplitude=1.5, seed=i)
        folder = root / c.folder
        folder.mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(frames):
            Image.fromarray(frame).save(folder / f"img{c.onset + t}.jpg", quality=95)
        offset = c.onset + len(frames) - 1
        ws.append([c.subject, c.filename, None, c.onset, c.onset + c.apex_offset, offset, None, "4", c.emotion])
    wb.save(root / "coding.xlsx")
    return root
