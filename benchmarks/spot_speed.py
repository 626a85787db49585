"""Speed and memory of `mesti spot --method flow` on long videos.

A benchmark, not a test. Writes a synthetic 640 x 480, 30 fps video (a face from the long-video
generator, with expressions, blinks and head motion; MJPG in AVI), spots it in a fresh process
and prints frames per second and the multiple of real time; then does the same for a 10-minute
video (the 1-minute one repeated) and compares the peak resident memory of the two runs.
    python benchmarks/spot_speed.py [--minutes 1] [--long-minutes 10]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from mesti.synth.faces import available_photos, photo_landmarks
from mesti.synth.identity import make_face
from mesti.synth.long import plan_long_video, render_long_video
from mesti.synth.render import FaceRig

FPS = 30.0
_RUN = """
import json, resource, sys, time
from mesti.clips.stream import open_stream
from mesti.spotting import create_spotter
stream = open_stream(sys.argv[1])
t = time.perf_counter()
result = create_spotter("flow").spot(stream)
seconds = time.perf_counter() - t
print(json.dumps({"frames": result.frames, "seconds": seconds, "intervals": len(result.intervals),
                  "frames_held": result.frames_held,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_video(path: Path, minutes: float) -> int:
    photos = available_photos()
    source = photos[0] if photos else "procedural"
    rig = FaceRig(make_face(source, 0, 1, 480, None if source == "procedural" else photo_landmarks(source)))
    spec = plan_long_video(0, 1, 0, minutes * 60, FPS, 1.5)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
    for frame in render_long_video(rig, spec):
        wide = cv2.copyMakeBorder(frame, 0, 0, 80, 80, cv2.BORDER_REFLECT101)
        writer.write(cv2.cvtColor(wide, cv2.COLOR_RGB2BGR))
    writer.release()
    return spec.frames


def repeat_video(src: Path, dst: Path, times: int) -> None:
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
    for _ in range(times):
        cap = cv2.VideoCapture(str(src))
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            writer.write(frame)
        cap.release()
    writer.release()


def spot(path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _RUN, str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--long-minutes", type=int, default=10)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mesti_spot_speed_"))
    short, long = work / "short.avi", work / "long.avi"
    t = time.perf_counter()
    frames = write_video(short, args.minutes)
    print(f"wrote {frames} frames of 640x480 at {FPS:g} fps in {time.perf_counter() - t:.0f} s "
          f"({platform.machine()}, OpenCV {cv2.__version__})", flush=True)
    a = spot(short)
    print(f"{args.minutes:g} min: {a['frames'] / a['seconds']:.1f} frames/s = {a['frames'] / a['seconds'] / FPS:.2f} x real time; "
          f"peak RSS {a['peak_rss_mib']:.0f} MiB; {a['frames_held']} registered crops held", flush=True)
    if args.long_minutes:
        repeat_video(short, long, int(round(args.long_minutes / args.minutes)))
        b = spot(long)
        print(f"{args.long_minutes} min: {b['frames'] / b['seconds']:.1f} frames/s = {b['frames'] / b['seconds'] / FPS:.2f} x real time; "
              f"peak RSS {b['peak_rss_mib']:.0f} MiB; {b['frames_held']} registered crops held")
        print(f"peak memory, {args.long_minutes} min / {args.minutes:g} min: {b['peak_rss_mib'] / a['peak_rss_mib']:.2f}")


if __name__ == "__main__":
    main()
