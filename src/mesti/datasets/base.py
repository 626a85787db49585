"""The clip record every dataset adapter produces, and how a record becomes a :class:`Clip`.

Adapters differ only in how they read a sheet and where frames live (tvaranka/meb's
pattern); everything after them sees :class:`ClipRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mesti.clips.clip import Clip
from mesti.clips.io import read_image, sorted_frame_paths
from mesti.errors import MestiError


@dataclass(frozen=True)
class ClipRecord:
    """One annotated clip of a dataset, before any pixels are read.

    Frame numbers (``onset_frame`` ...) are the numbers in the dataset's file names, as in
    its sheet. ``frame_pattern`` builds a file name from a frame number (``"img{n}.jpg"``,
    ``"006_{n:05d}.jpg"``); ``None`` means the clip is every image in ``frame_dir`` in natural
    order (SMIC), with the apex at ``apex_frame`` or else the middle frame.
    ``label`` is the class under the chosen class set (``None``: excluded from it);
    ``emotion`` the sheet's own text. ``notes`` record sheet quirks handled for this clip.
    """

    dataset: str
    subject: str
    clip_id: str
    emotion: str
    label: str | None
    frame_dir: Path
    onset_frame: int | None = None
    apex_frame: int | None = None
    offset_frame: int | None = None
    frame_pattern: str | None = None
    fps: float = 200.0
    action_units: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def key(self) -> str:
        """``dataset/subject/clip_id``: unique within a composite, used in messages and caches."""
        return f"{self.dataset}/{self.subject}/{self.clip_id}"

    def frame_paths(self) -> list[Path]:
        """The files of frames onset..offset in temporal order (no pixels read)."""
        if self.frame_pattern is None:
            return sorted_frame_paths(self.frame_dir)
        if self.onset_frame is None or self.offset_frame is None:
            raise MestiError(self.key, "onset and offset frame numbers are needed with a frame pattern")
        return [self.frame_dir / self.frame_pattern.format(n=n) for n in range(self.onset_frame, self.offset_frame + 1)]

    def load(self) -> Clip:
        """Read the frames onset..offset into a :class:`Clip` (positions relative to onset)."""
        paths = self.frame_paths()
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
            raise MestiError(self.key, f"missing frame(s) in {self.frame_dir}: {', '.join(missing[:3])}{more}")
        import numpy as np

        arrays = [read_image(p) for p in paths]
        shape = arrays[0].shape
        for p, a in zip(paths, arrays, strict=True):
            if a.shape != shape:
                raise MestiError(self.key, f"frame {p.name} is {a.shape[1]}x{a.shape[0]}, others {shape[1]}x{shape[0]}")
        frames = np.stack(arrays)
        n = len(paths)
        if self.frame_pattern is not None and self.apex_frame is not None and self.onset_frame is not None:
            apex = self.apex_frame - self.onset_frame
        elif self.frame_pattern is None and self.apex_frame is not None:
            apex = int(self.apex_frame)
        else:
            apex = (n - 1) // 2
        return Clip(
            frames=frames,
            onset=0,
            apex=apex,
            offset=n - 1,
            fps=self.fps,
            subject=self.subject,
            label=self.label,
            clip_id=self.clip_id,
            dataset=self.dataset,
            source=str(self.frame_dir),
            meta={"emotion": self.emotion, "action_units": self.action_units, "notes": list(self.notes)},
        )
