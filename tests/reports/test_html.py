"""report.html in a real headless browser: it renders, one block per interval, no network.

Chromium comes from the distribution's packages (Debian: ``apt-get install chromium``); the
browser tests are skipped, saying so, where none is installed. The structure tests run always.
"""

from __future__ import annotations

import http.server
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mesti.errors import MestiError
from mesti.reports.html import CSP, ReportInterval, render_html_report, write_html_report

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome", "chrome") if shutil.which(b)), None)
needs_browser = pytest.mark.skipif(BROWSER is None, reason="no Chromium binary found (apt-get install chromium)")
RED = (230, 20, 20)


def _timeline() -> bytes:
    import io

    img = np.full((60, 400, 3), 255, np.uint8)
    img[30:32] = 0
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def intervals(n: int = 3) -> list[ReportInterval]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        apex = np.zeros((48, 48, 3), np.uint8)
        apex[:] = RED  # a saturated apex frame, easy to find in a screenshot
        out.append(ReportInterval(onset=10 + 40 * i, apex=15 + 40 * i, offset=22 + 40 * i, type="micro" if i % 2 == 0 else "macro",
                                  score=0.9 - 0.1 * i, label=["positive", "negative", "surprise"][i % 3],
                                  probabilities={"negative": 0.2, "positive": 0.5, "surprise": 0.3},
                                  apex_frame=apex, image=rng.random((32, 32, 3)) * 255,
                                  attention=rng.random((32, 32)) if i != 1 else None))
    return out


def _browser(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert BROWSER is not None
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def test_structure_without_a_browser(tmp_path: Path) -> None:
    path = write_html_report(tmp_path / "report.html", intervals(), fps=30.0, video="clip.mp4", model="bundle b",
                             modality="mesti", method="flow", timeline_png=_timeline())
    page = path.read_text()
    assert page.count('<section class="interval"') == 3 and f'content="{CSP}"' in page
    assert page.count("data:image/png;base64,") == 1 + 3 + 3 + 2  # timeline, apex frames, images, two attention maps
    assert not re.search(r"""\b(src|href)\s*=\s*(?!["'](data:|#))""", page)  # nothing but inline data and anchors
    assert "0.33 s to 0.77 s" in page  # the end of the offset frame 22 (issue 22 D21)
    assert "spot score 0.900" in page
    bad = intervals(1)
    bad[0].label = "<script>alert(1)</script>"
    assert "<script>" not in render_html_report(bad, fps=30.0, video="v")
    with pytest.raises(MestiError, match="frame rate"):
        render_html_report([], fps=0.0, video="v")
    with pytest.raises(MestiError, match="not a PNG"):
        render_html_report([], fps=30.0, video="v", timeline_png=b"GIF89a")


@needs_browser
def test_renders_one_block_per_interval_in_chromium(tmp_path: Path) -> None:
    path = write_html_report(tmp_path / "report.html", intervals(), fps=30.0, video="clip.mp4", model="bundle b",
                             modality="mesti", method="flow", timeline_png=_timeline())
    dom = _browser("--dump-dom", path.as_uri(), profile=tmp_path / "p1").stdout
    assert len(re.findall(r'<section class="interval" id="interval-\d+">', dom)) == 3
    assert "3 intervals spotted" in dom
    shot = tmp_path / "shot.png"
    _browser(f"--screenshot={shot}", "--window-size=1200,2400", "--hide-scrollbars", path.as_uri(), profile=tmp_path / "p2")
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    red = np.all(np.abs(pixels - np.array(RED)) < 12, axis=1).sum()
    assert red > 3 * 100 * 100  # the three inlined apex frames were decoded and drawn (160 px tall each)


@needs_browser
def test_empty_analysis_is_a_valid_page_that_says_so(tmp_path: Path) -> None:
    path = write_html_report(tmp_path / "report.html", [], fps=200.0, video="long.mp4", timeline_png=_timeline())
    dom = _browser("--dump-dom", path.as_uri(), profile=tmp_path / "p").stdout
    assert 'id="nothing-spotted"' in dom and "Nothing was spotted" in dom
    assert '<section class="interval"' not in dom


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request it gets."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    finally:
        httpd.shutdown()
        httpd.server_close()


@needs_browser
def test_the_page_cannot_load_anything_from_the_network(tmp_path: Path, server: tuple[str, list[str]]) -> None:
    """The real page names no URL; and its policy blocks a planted one, which loads without it."""
    url, hits = server
    page = render_html_report(intervals(2), fps=30.0, video="clip.mp4", timeline_png=_timeline())
    planted = (f'<img src="{url}/img.png"><link rel="stylesheet" href="{url}/style.css">'
               f'<iframe src="{url}/frame.html"></iframe></body>')
    guarded = tmp_path / "guarded.html"
    guarded.write_text(page.replace("</body>", planted))
    _browser("--dump-dom", "--virtual-time-budget=3000", guarded.as_uri(), profile=tmp_path / "p1")
    assert hits == []  # the Content-Security-Policy stopped all three
    bare = tmp_path / "bare.html"  # control: the same page without the policy does reach the server
    bare.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page).replace("</body>", planted))
    _browser("--dump-dom", "--virtual-time-budget=3000", bare.as_uri(), profile=tmp_path / "p2")
    assert "/img.png" in hits


def test_analysis_folder_holds_every_output(tmp_path: Path) -> None:
    import json

    import pandas as pd

    from mesti.reports.analysis import AnalysisSource, write_analysis

    classes = ["negative", "positive", "surprise"]
    scores = np.abs(np.sin(np.arange(300) / 20.0))
    source = AnalysisSource("clip.mp4", 30.0, classes, model="bundle b", modality="mesti", method="flow")
    out = write_analysis(tmp_path / "analysis", intervals(), source, scores=scores, threshold=0.8)
    assert sorted(p.name for p in out.iterdir()) == ["intervals.csv", "intervals.json", "report.html", "timeline.png"]
    table = pd.read_csv(out / "intervals.csv")
    assert list(table["onset"]) == [10, 50, 90] and table["offset_s"][0] == pytest.approx(23 / 30, abs=1e-4)
    assert list(table["prediction"]) == ["positive", "negative", "surprise"] and "prob_surprise" in table
    data = json.loads((out / "intervals.json").read_text())
    assert data["fps"] == 30.0 and len(data["intervals"]) == 3
    page = (out / "report.html").read_text()
    assert page.count('<section class="interval"') == 3 and page.count("data:image/png") == 9
    with Image.open(out / "timeline.png") as im:
        assert im.size[0] >= 800
    empty = write_analysis(tmp_path / "empty", [], AnalysisSource("clip.mp4", 30.0, classes), scores=scores)
    assert pd.read_csv(empty / "intervals.csv").empty and "Nothing was spotted" in (empty / "report.html").read_text()
    with pytest.raises(MestiError):
        write_analysis(tmp_path / "bad", [], AnalysisSource("clip.mp4", 0.0, classes))
    assert not (tmp_path / "bad").exists()
