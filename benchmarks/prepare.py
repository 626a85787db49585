"""``prepare`` throughput on a CASME II-shaped tree: 640 x 480 JPEG frames with a real face.

A benchmark, not a test: it writes a temporary tree (the scikit-image astronaut pasted into
each frame, drifting by sub-pixel amounts), then times a cold run per worker count and a
warm re-run (everything cached).
    python benchmarks/prepare.py [--clips 24] [--frames 30] [--size 224] [--workers 1,2]
        [--modalities mesti,dynamic_image,flow_onset_apex,apex] [--face dlib-hog]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from openpyxl import Workbook
from PIL import Image
from skimage import data

from mesti.cache import prepare
from mesti.datasets.registry import create_dataset
from mesti.preprocessing import PreprocessConfig

EMOTIONS = ("happiness", "disgust", "repression", "surprise", "others")


def write_tree(root: Path, clips: int, frames: int) -> None:
    face = cv2.resize(data.astronaut(), (400, 400), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 120, dtype=np.uint8)
    canvas[40:440, 120:520] = face
    wb = Workbook()
    ws = wb.active
    ws.append(["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units", "Estimated Emotion"])
    for c in range(clips):
        subject, name = c % 8 + 1, f"EP{c:02d}_01f"
        folder = root / f"sub{subject:02d}" / name
        folder.mkdir(parents=True)
        for t in range(frames):
            dx = 1.5 * np.sin(np.pi * t / (frames - 1))
            m = np.float32([[1, 0, dx], [0, 1, 0.3 * dx]])
            frame = cv2.warpAffine(canvas, m, (640, 480), borderMode=cv2.BORDER_REPLICATE)
            Image.fromarray(frame).save(folder / f"img{100 + t}.jpg", quality=90)
        ws.append([subject, name, None, 100, 100 + frames // 3, 100 + frames - 1, None, "12", EMOTIONS[c % 5]])
    wb.save(root / "coding.xlsx")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--modalities", default="mesti,dynamic_image,flow_onset_apex,apex")
    ap.add_argument("--face", default="dlib-hog")
    args = ap.parse_args()
    modalities = args.modalities.split(",")
    config = PreprocessConfig(face=args.face, size=args.size)
    print(f"{platform.processor() or platform.machine()}; {args.clips} clips x {args.frames} frames 640x480 -> "
          f"{args.size}x{args.size}, face {args.face}, modalities {','.join(modalities)}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "CASME2_RAW_selected"
        write_tree(root, args.clips, args.frames)
        adapter = create_dataset("casme2", root)
        for w in (int(x) for x in args.workers.split(",")):
            cache = Path(tmp) / f"cache_w{w}"
            start = time.perf_counter()
            report = prepare(adapter, modalities, cache, config=config, workers=w)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            again = prepare(adapter, modalities, cache, config=config, workers=w)
            warm = time.perf_counter() - start
            print(f"workers {w}: cold {cold:6.1f} s ({args.clips / cold:5.2f} clips/s; {report.summary()}); "
                  f"re-run {warm:5.2f} s ({again.computed} computed)")


if __name__ == "__main__":
    main()
