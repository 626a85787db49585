"""One picture of a clip: its key frames beside every encoded modality."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mesti.clips.clip import Clip  # noqa: E402
from mesti.utils.atomic import write_bytes  # noqa: E402
from mesti.utils.images import display_uint8  # noqa: E402


def contact_sheet(
    clip: Clip,
    images: Mapping[str, np.ndarray],
    path: str | os.PathLike[str],
    already_scaled: bool = True,
    title: str | None = None,
) -> Path:
    """Save onset / apex / offset frames and each modality image in one PNG grid."""
    panels: list[tuple[str, np.ndarray]] = [
        (f"onset (frame {clip.onset})", clip.frames[clip.onset]),
        (f"apex (frame {clip.apex})", clip.frames[clip.apex]),
        (f"offset (frame {clip.offset})", clip.frames[clip.offset]),
    ]
    panels += [(name, display_uint8(img, already_scaled)) for name, img in images.items()]
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, img) in zip(axes.flat, panels, strict=False):
        img = np.asarray(img)
        if img.ndim == 3 and img.shape[-1] == 1:
            ax.imshow(img[..., 0], cmap="magma", vmin=0, vmax=255)
        else:
            ax.imshow(img.astype(np.uint8) if img.dtype != np.uint8 else img, vmin=0, vmax=255)
        ax.set_title(name, fontsize=10)
    fig.suptitle(title or f"{clip.name}: {clip.length} frames, apex at {clip.apex_in_window}", fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return write_bytes(path, buf.getvalue())
