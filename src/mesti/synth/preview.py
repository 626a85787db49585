"""A contact sheet of a synthetic set: per class, one clip's onset, apex, offset and MESTI.

Frames are read back from the written JPEGs through the ``casme2`` adapter, so the picture
shows what a user's pipeline will see. The clip shown for a class is its largest movement,
so a person can find it by eye; most clips of the set are much subtler.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mesti.datasets.casme2 import CASME2  # noqa: E402
from mesti.synth.plan import ClipSpec, DatasetPlan  # noqa: E402
from mesti.modalities import encode  # noqa: E402
from mesti.utils.images import display_uint8  # noqa: E402


def showcase_clips(plan: DatasetPlan) -> dict[str, ClipSpec]:
    """Per class label (in first-seen order), the clip with the largest peak movement."""
    best: dict[str, ClipSpec] = {}
    for c in plan.clips:
        if c.label is None:
            continue
        peak = max(e.amplitude for e in c.aus)
        if c.label not in best or peak > max(e.amplitude for e in best[c.label].aus):
            best[c.label] = c
    return best


def class_contact_sheet(root: Path, plan: DatasetPlan, classes: int, path: Path) -> Path:
    """Draw the sheet for the set written under ``root`` and save it as PNG at ``path``."""
    adapter = CASME2(root, classes=classes)
    records = {(r.subject, r.clip_id): r for r in adapter.records()}
    chosen = showcase_clips(plan)
    order = [c for c in adapter.class_names if c in chosen]
    cols = ("onset", "apex (annotated)", "offset", "MESTI (min-max)")
    fig, axes = plt.subplots(len(order), len(cols), figsize=(2.3 * len(cols), 2.5 * len(order)), squeeze=False)
    for row, label in enumerate(order):
        spec = chosen[label]
        clip = records[(f"sub{spec.subject:02d}", spec.filename)].load()
        images = (clip.frames[clip.onset], clip.frames[clip.apex], clip.frames[clip.offset],
                  display_uint8(encode(clip, "mesti")))
        for col, (ax, img) in enumerate(zip(axes[row], images, strict=True)):
            ax.imshow(np.asarray(img, dtype=np.uint8))
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(cols[col], fontsize=9)
        amp = max(e.amplitude for e in spec.aus)
        axes[row][0].set_ylabel(f"{label}\n{spec.folder}\nAU {spec.au_text}, {amp:.1f} px@224", fontsize=8)
    fig.suptitle(f"synthetic set: {len(plan.subjects)} subjects, {len(plan.clips)} clips; one clip per class", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    path.write_bytes(buf.getvalue())
    return path
