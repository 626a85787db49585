from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from tests.conftest import moving_clip, write_frames
from tests.datasets.builders import write_video


def write_manifest(root: Path, header: str, *rows: str, name: str = "manifest.csv") -> Path:
    path = root / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def clips_root(tmp_path: Path) -> Path:
    root = tmp_path / "mine"
    write_frames(root / "p1" / "take1", moving_clip(length=10))  # img1.png .. img10.png
    write_video(root / "p2" / "take2.avi", n_frames=9)
    return root


def test_frame_folders_and_videos(clips_root: Path) -> None:
    write_manifest(
        clips_root,
        "path,subject,label,onset,apex,offset,notes",
        "p1/take1,p1,happy,2,4,8,the extra column is ignored",
        "p2/take2.avi,p2,sad,1,,6,",
        "p1/take1,p1,happy,,,,",
    )
    with pytest.raises(MestiError, match="line 4: folder/p1/take1 is also line 2"):
        create_dataset("folder", clips_root).records()
    write_manifest(
        clips_root,
        "path,subject,label,onset,apex,offset,clip,dataset",
        "p1/take1,p1,happy,2,4,8,,",
        "p2/take2.avi,p2,sad,1,,6,,lab",
        "p1/take1,p1,happy,,,,whole,",
    )
    adapter = create_dataset("folder", clips_root)
    assert adapter.class_names == ["happy", "sad"]
    first, video, whole = adapter.records()
    assert (first.kind, video.kind, whole.kind) == ("frames", "video", "frames")
    assert (first.key, video.key, whole.key) == ("folder/p1/take1", "lab/p2/take2", "folder/p1/whole")

    clip = first.load()  # positions 2..8 of img1..img10: img3..img9
    np.testing.assert_array_equal(clip.frames, moving_clip(length=10)[2:9])
    assert (clip.apex, clip.offset) == (2, 6)
    assert [p.name for p in first.frame_paths()] == [f"img{n}.png" for n in range(3, 10)]

    clip = video.load()  # frames 1..6 of 9, apex in the middle
    assert clip.frames.shape == (6, 24, 32, 3) and clip.apex == 2
    assert abs(int(clip.frames[0].mean()) - 20) <= 3 and abs(int(clip.frames[-1].mean()) - 120) <= 3
    assert video.frame_paths() == [clips_root / "p2" / "take2.avi"]

    clip = whole.load()
    assert clip.frames.shape[0] == 10 and clip.apex == 4


def test_a_video_window_past_its_end_is_an_error_naming_the_clip(clips_root: Path) -> None:
    write_manifest(clips_root, "path,subject,label,offset", "p2/take2.avi,p2,sad,20")
    (rec,) = create_dataset("folder", clips_root).records()
    with pytest.raises(MestiError, match=r"folder/p2/take2: offset 20 is beyond the 9 frames"):
        rec.load()


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../outside", "'..' would leave"),
        ("p1/../../outside", "'..' would leave"),
        ("p1\\..\\..\\outside", "'..' would leave"),
        ("/etc/passwd", "absolute path"),
        ("C:\\data\\clip", "absolute path"),
        ("\\\\server\\share", "absolute path"),
        ("C:relative", "absolute path"),
        ("link/clip", "links outside"),
    ],
)
@pytest.mark.parametrize("adapter", ["folder", "images"])
def test_paths_that_leave_the_root_are_refused(clips_root: Path, tmp_path: Path, path: str, reason: str, adapter: str) -> None:
    (tmp_path / "outside" / "clip").mkdir(parents=True)
    os.symlink(tmp_path / "outside", clips_root / "link")
    fine = "p1/take1" if adapter == "folder" else "p1/take1/img1.png"
    write_manifest(clips_root, "path,subject,label", f"{fine},p1,a", f'"{path}",p1,a')
    with pytest.raises(MestiError, match=rf"manifest.csv line 3: .*{reason}"):
        create_dataset(adapter, clips_root).records()


def test_manifest_rows_are_checked(clips_root: Path) -> None:
    cases = [
        ("path,subject\np1/take1,p1", "missing column.*label"),
        ("path,subject,label\np1/take1,,a", "line 2: no subject"),
        ("path,subject,label,onset,offset\np1/take1,p1,a,5,3", "line 2: offset 3 is not after onset 5"),
        ("path,subject,label,apex\np1/take1,p1,a,x", "line 2: apex 'x' is not a 0-based frame position"),
        ("path,subject,label\np1/take1/img1.png,p1,a", "single image, not a clip"),
        ("path,subject,label\np1/take1,p1,1\np1/take1,p1,b", "mix integers and class names"),
    ]
    for text, error in cases:
        (clips_root / "manifest.csv").write_text(text + "\n")
        with pytest.raises(MestiError, match=error):
            create_dataset("folder", clips_root).records()
    (clips_root / "manifest.csv").write_text("path,subject,label\np1/take1,p1,a\np2/take2.avi,p2,b\n")
    with pytest.raises(MestiError, match="the manifest has 2 classes"):
        create_dataset("folder", clips_root, classes=3).records()
    with pytest.raises(MestiError, match="no such manifest"):
        create_dataset("folder", clips_root, sheet=clips_root / "nope.csv")


def test_precomputed_images(tmp_path: Path) -> None:
    root = tmp_path / "flows"
    for name, value in (("a.png", 10), ("b.png", 200), ("c.jpg", 90)):
        (root / "s1").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((12, 16, 3), value, np.uint8)).save(root / "s1" / name)
    write_manifest(
        root,
        "path,subject,label,dataset,onset,score",
        "s1/a.png,s1,0,casme2,3,0.5",
        "s1/b.png,s1,2,,,",
        "s1/c.jpg,s1,1,,,",
    )
    adapter = create_dataset("images", root)
    assert adapter.class_names == ["0", "1", "2"]
    a, b, _ = adapter.records()
    assert (a.kind, a.key, a.label, b.label) == ("image", "casme2/s1/a", "0", "2")
    assert a.onset_frame is None  # clip columns are not read for images
    assert b.load_image().shape == (12, 16, 3) and int(b.load_image()[0, 0, 0]) == 200
    with pytest.raises(MestiError, match="a precomputed image, not a clip"):
        a.load()

    named = create_dataset("images", root, class_names="negative,positive,surprise").records()
    assert [r.label for r in named] == ["negative", "surprise", "positive"]
    with pytest.raises(MestiError, match="line 3: label 2 is not a class index 0..1"):
        create_dataset("images", root, class_names=["negative", "positive"]).records()

    write_manifest(root, "path,subject,label", "s1/a.png,s1,happy", "s1/b.png,s1,fear")
    adapter = create_dataset("images", root, class_names=["happy", "sad"])
    assert [r.label for r in adapter.records()] == ["happy", None]
    assert adapter.issues == ["manifest.csv line 3: label 'fear' is none of happy, sad; the sample has no class"]

    write_manifest(root, "path,subject,label", "s1,s1,a")
    with pytest.raises(MestiError, match="line 2: s1 is not an image file"):
        create_dataset("images", root).records()
