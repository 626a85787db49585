"""``report.html``: one self-contained page for the analysis of a video.

Everything is inside the file: pictures are PNG data URIs, the style sheet is inline, and
there is no script. A Content-Security-Policy meta tag forbids the browser from loading
anything else (``default-src 'none'``), so the page opens from disk, offline, in any browser,
and cannot leak a request. An analysis where nothing was spotted is a valid page that says so.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from mesti.clips.intervals import frame_seconds
from mesti.errors import MestiError
from mesti.utils.atomic import write_text
from mesti.utils.images import display_uint8

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; padding: 0 1em; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 0; }
table { border-collapse: collapse; margin: 1em 0; } td, th { padding: .25em .7em; border-bottom: 1px solid #ddd; }
th { text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.timeline img { max-width: 100%; }
.interval { border: 1px solid #ccc; border-radius: 6px; padding: 1em; margin: 1.2em 0; }
.pictures { display: flex; gap: 1em; flex-wrap: wrap; }
.pictures figure { margin: 0; } .pictures img { height: 160px; image-rendering: pixelated; }
figcaption { font-size: .85em; color: #555; text-align: center; }
.bar { background: #e8e8e8; width: 12em; height: .9em; display: inline-block; vertical-align: middle; }
.bar span { background: #3b73b9; height: 100%; display: block; }
.best td { font-weight: bold; } .empty { font-size: 1.2em; padding: 1em; background: #f4f4f4; }
.meta { color: #555; }
"""


@dataclass
class ReportInterval:
    """One spotted interval (0-based frames, inclusive) and what the model said about it."""

    onset: int
    apex: int
    offset: int
    type: str
    score: float
    label: str | None = None
    probabilities: Mapping[str, float] = field(default_factory=dict)
    apex_frame: np.ndarray | None = None  # H x W x 3 uint8 (RGB)
    image: np.ndarray | None = None  # the encoded modality, H x W x C on 0..255
    attention: np.ndarray | None = None  # MEGANet's gradient-attention map, H x W on 0..1


def png_data_uri(image: np.ndarray, *, colormap: str | None = None) -> str:
    """An image as a ``data:image/png;base64,...`` URI; ``colormap`` for a 2-D map on 0..1."""
    arr = np.asarray(image)
    if colormap is not None:
        from matplotlib import colormaps

        rgba = colormaps[colormap](np.clip(arr.astype(np.float32), 0.0, 1.0))
        arr = (rgba[..., :3] * 255).round().astype(np.uint8)
    elif arr.dtype != np.uint8:
        arr = display_uint8(arr)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _png_bytes_uri(data: bytes) -> str:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise MestiError("timeline", "not a PNG image")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _span(iv: ReportInterval, fps: float) -> tuple[str, str]:
    """Start of the onset frame and end of the offset frame (:func:`frame_seconds`)."""
    s = frame_seconds(iv.onset, iv.apex, iv.offset, fps)
    return f"{s['onset_s']:.2f} s", f"{s['offset_s']:.2f} s"


def _row(i: int, iv: ReportInterval, fps: float) -> str:
    onset_s, offset_s = _span(iv, fps)
    return (f'<tr><td><a href="#interval-{i}">#{i}</a></td><td>{_e(iv.type)}</td><td class="num">{iv.onset}</td>'
            f'<td class="num">{iv.apex}</td><td class="num">{iv.offset}</td>'
            f'<td class="num">{onset_s}</td><td class="num">{offset_s}</td>'
            f'<td class="num">{iv.score:.3f}</td><td>{_e(iv.label or "")}</td></tr>')


def _figure(uri: str, caption: str) -> str:
    return f'<figure><img src="{uri}" alt="{_e(caption)}"><figcaption>{_e(caption)}</figcaption></figure>'


def _interval_block(i: int, iv: ReportInterval, fps: float, modality: str) -> str:
    onset_s, offset_s = _span(iv, fps)
    head = f"#{i} {iv.type}: frames {iv.onset}-{iv.offset} (apex {iv.apex}), {onset_s} to {offset_s}"
    parts = [f'<section class="interval" id="interval-{i}">', f"<h2>{_e(head)}</h2>",
             f'<p>spot score {iv.score:.3f}; predicted class <strong class="label">{_e(iv.label or "not classified")}'
             "</strong></p>"]
    pictures = []
    if iv.apex_frame is not None:
        pictures.append(_figure(png_data_uri(iv.apex_frame), f"apex frame {iv.apex}"))
    if iv.image is not None:
        pictures.append(_figure(png_data_uri(iv.image), f"{modality} image"))
    if iv.attention is not None:
        pictures.append(_figure(png_data_uri(iv.attention, colormap="inferno"), "gradient attention"))
    if pictures:
        parts.append('<div class="pictures">' + "".join(pictures) + "</div>")
    if iv.probabilities:
        best = max(iv.probabilities, key=lambda k: iv.probabilities[k])
        rows = []
        for name, p in sorted(iv.probabilities.items(), key=lambda kv: -kv[1]):
            cls = ' class="best"' if name == best else ""
            rows.append(f'<tr{cls}><td>{_e(name)}</td><td class="num">{p:.3f}</td>'
                        f'<td><span class="bar"><span style="width:{100 * max(0.0, min(1.0, p)):.1f}%"></span></span></td></tr>')
        parts.append('<table class="probabilities"><tr><th>class</th><th>probability</th><th></th></tr>'
                     + "".join(rows) + "</table>")
    parts.append("</section>")
    return "\n".join(parts)


def render_html_report(intervals: Sequence[ReportInterval], *, fps: float, video: str, model: str = "",
                       modality: str = "encoded", method: str = "", timeline_png: bytes | None = None,
                       notes: Sequence[str] = ()) -> str:
    """The page as a string (see :func:`write_html_report`)."""
    if not fps > 0:
        raise MestiError(video, f"frame rate must be positive, got {fps}")
    title = f"Micro-expression analysis: {Path(video).name}"
    meta = [f"video {video}", f"{fps:g} fps"]
    if method:
        meta.append(f"spotting method {method}")
    if model:
        meta.append(f"model {model}")
    body = [f"<h1>{_e(title)}</h1>", f'<p class="meta">{_e("; ".join(meta))}</p>']
    body += [f'<p class="meta">{_e(n)}</p>' for n in notes]
    if timeline_png is not None:
        body.append(f'<div class="timeline">{_figure(_png_bytes_uri(timeline_png), "motion score over time")}</div>')
    if not intervals:
        body.append('<p class="empty" id="nothing-spotted">Nothing was spotted in this video: no interval rose '
                    "above the spotting threshold.</p>")
    else:
        rows = "".join(_row(i, iv, fps) for i, iv in enumerate(intervals, start=1))
        body.append(f"<p>{len(intervals)} interval{'s' if len(intervals) != 1 else ''} spotted.</p>")
        body.append('<table class="summary"><tr><th></th><th>type</th><th>onset</th><th>apex</th><th>offset</th>'
                    f"<th>from</th><th>to</th><th>score</th><th>class</th></tr>{rows}</table>")
        body += [_interval_block(i, iv, fps, modality) for i, iv in enumerate(intervals, start=1)]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def write_html_report(path: str | os.PathLike[str], intervals: Sequence[ReportInterval], *, fps: float, video: str,
                      model: str = "", modality: str = "encoded", method: str = "", timeline_png: bytes | None = None,
                      notes: Sequence[str] = ()) -> Path:
    """Write one self-contained ``report.html`` (atomically): the timeline, a summary table,
    and per interval its frames and seconds, type, spot score, the apex frame, the encoded
    image, the gradient-attention map when the model has one, and the class probabilities."""
    page = render_html_report(intervals, fps=fps, video=video, model=model, modality=modality, method=method,
                              timeline_png=timeline_png, notes=notes)
    return write_text(path, page)
