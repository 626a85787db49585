from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.modalities import list_modalities, mesti_weights
from tests.conftest import moving_clip, write_frames

runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [str(a) for a in args])


def test_encode_npy_raw_is_the_exact_sum(clip_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.npy"
    res = run("encode", clip_folder, "--modality", "mesti", "--apex", 4, "--scale", "raw", "--out", out)
    assert res.exit_code == 0, res.output
    got = np.load(out)
    frames = moving_clip().astype(np.float64)
    expected = np.tensordot(mesti_weights(12, 5).astype(np.float64), frames, axes=1)
    assert got.dtype == np.float32 and got.shape == (48, 48, 3)
    np.testing.assert_array_equal(got, expected.astype(np.float32))


def test_encode_png_and_window(clip_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "di.png"
    res = run("encode", clip_folder, "-m", "dynamic_image", "--onset", 1, "--offset", 10, "--out", out)
    assert res.exit_code == 0, res.output
    img = np.asarray(Image.open(out))
    assert img.shape == (48, 48, 3) and img.dtype == np.uint8 and img.max() == 255


def test_encode_all_writes_every_modality_and_a_contact_sheet(clip_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "all"
    res = run("encode", clip_folder, "--all", "--out", out)
    assert res.exit_code == 0, res.output
    for name in list_modalities():
        assert (out / f"{name}.png").is_file() and (out / f"{name}.npy").is_file()
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.size[0] > 600 and sheet.size[1] > 300
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def _bad_video(tmp_path: Path) -> Path:
    p = tmp_path / "broken.avi"
    p.write_bytes(b"RIFF0000AVI junk that no decoder accepts" * 10)
    return p


def _bad_cases(tmp_path: Path) -> dict[str, tuple[Path, list[str], str]]:
    frames = moving_clip()
    one = write_frames(tmp_path / "one", frames[:1])
    empty = tmp_path / "empty"
    empty.mkdir()
    sizes = write_frames(tmp_path / "sizes", frames[:3])
    write_frames(sizes, moving_clip(size=32)[:1], start=4)
    unreadable = write_frames(tmp_path / "unreadable", frames[:4])
    (unreadable / "img5.png").write_bytes(b"not a png")
    notimage = write_frames(tmp_path / "notimage", frames[:4])
    (notimage / "notes.txt").write_text("hello")
    ok = write_frames(tmp_path / "ok", frames)
    return {
        "fewer than 2 frames": (one, [], "at least 2 frames"),
        "empty folder": (empty, [], "no image frames"),
        "different sizes": (sizes, [], "differ in size"),
        "unreadable image": (unreadable, [], "cannot read the image"),
        "non-image file": (notimage, [], "not an image file"),
        "apex outside": (ok, ["--onset", "2", "--apex", "1"], "outside [onset, offset]"),
        "onset after offset": (ok, ["--onset", "8", "--offset", "3"], "after offset"),
        "video cannot be opened": (_bad_video(tmp_path), [], "cannot be opened"),
    }


@pytest.mark.parametrize(
    "case",
    ["fewer than 2 frames", "empty folder", "different sizes", "unreadable image", "non-image file",
     "apex outside", "onset after offset", "video cannot be opened"],
)
@pytest.mark.parametrize("suffix", [".npy", ".png", "/"])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path: Path, case: str, suffix: str) -> None:
    source, extra, message = _bad_cases(tmp_path)[case]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = ["encode", str(source), *extra]
    args += ["--all", "--out", str(out_dir / "all")] if suffix == "/" else ["-m", "mesti", "--out", str(out_dir / f"x{suffix}")]
    res = run(*args)
    assert res.exit_code == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert message in lines[0] and source.name in lines[0]
    assert list(out_dir.iterdir()) == []


def test_option_errors(clip_folder: Path, tmp_path: Path) -> None:
    res = run("encode", clip_folder, "-m", "mesti", "--channels", "uvm", "--out", tmp_path / "x.npy")
    assert res.exit_code == 2 and "does not take --channels" in res.stderr
    res = run("encode", clip_folder, "-m", "mesti", "--scale", "raw", "--out", tmp_path / "x.png")
    assert res.exit_code == 2 and "write an .npy" in res.stderr
    res = run("encode", clip_folder, "-m", "nope", "--out", tmp_path / "x.npy")
    assert res.exit_code == 2 and "unknown modality" in res.stderr
    res = run("encode", clip_folder, "--out", tmp_path / "x.npy")
    assert res.exit_code == 2 and "exactly one of" in res.stderr
    assert list(tmp_path.glob("x.*")) == []


def test_python_dash_m_and_console_script(clip_folder: Path, tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "mesti", "--version"], capture_output=True, text=True, check=True)
    assert res.stdout.startswith("mesti ")
    bad = subprocess.run([sys.executable, "-m", "mesti", "encode", str(tmp_path / "missing"), "-m", "mesti", "--out", str(tmp_path / "x.npy")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no such file or folder" in bad.stderr


def test_encode_all_never_overwrites_files_it_did_not_write(clip_folder: Path, tmp_path: Path) -> None:
    """Issue 22 D24: ``encode --all --out F`` overwrote the user's own files in F."""
    mine = tmp_path / "figures"
    mine.mkdir()
    (mine / "mesti.png").write_bytes(b"my figure")
    (mine / "notes.txt").write_text("notes")
    for extra in ([], ["--overwrite"]):
        res = run("encode", clip_folder, "--all", "--out", mine, *extra)
        assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1, res.output
    assert (mine / "mesti.png").read_bytes() == b"my figure" and sorted(p.name for p in mine.iterdir()) == [
        "mesti.png", "notes.txt"]
    out = tmp_path / "all"
    assert run("encode", clip_folder, "--all", "--out", out).exit_code == 0
    res = run("encode", clip_folder, "--all", "--out", out)
    assert res.exit_code == 2 and "pass --overwrite" in res.stderr
    before = (out / "mesti.npy").read_bytes()
    res = run("encode", clip_folder, "--all", "--out", out, "--overwrite", "--apex", 3)
    assert res.exit_code == 0, res.output
    assert (out / "mesti.npy").read_bytes() != before  # replaced: another apex gives another image
