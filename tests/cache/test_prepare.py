"""prepare: computes once, reuses, recomputes only what a change affects, resumes, repairs."""

from __future__ import annotations

import importlib.util
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mesti.cache import REPORT_NAME, entry_ok, prepare, read_index
from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from mesti.preprocessing import PreprocessConfig
from tests.cache.casme2_tree import DEFAULT_CLIPS, FakeClip, write_tree
from tests.cache.conftest import FAST
from tests.preprocessing.faces import small_face

LABELLED_5 = [c for c in DEFAULT_CLIPS if c.emotion != "sadness"]  # 5 clips under 5 classes


def npy_files(cache: Path) -> dict[Path, int]:
    """Every cached image with its modification time (ns)."""
    return {p: p.stat().st_mtime_ns for p in cache.glob("*/*.npy")}


def test_first_run_computes_every_image_and_indexes_it(tree: Path, tmp_path: Path, encoder_calls: Counter[str]) -> None:
    cache = tmp_path / "cache"
    report = prepare(create_dataset("casme2", tree), ["mesti", "apex"], cache, config=FAST, workers=1)

    assert encoder_calls == {"mesti": 5, "apex": 5}
    assert (report.prepared, report.skipped, report.excluded, report.computed) == (5, 0, 1, 10)
    assert report.summary().startswith("5 prepared, 0 skipped")
    index = read_index(cache, "mesti")
    assert [e.key for e in index.entries] == [c.key for c in LABELLED_5]
    assert [e.label for e in index.entries] == [c.emotion for c in LABELLED_5]
    assert index.class_names == ["happiness", "disgust", "repression", "surprise", "others"]
    for e in index.entries:
        assert entry_ok(index.path(e), (24, 24, 3))
    saved = json.loads((cache / REPORT_NAME).read_text())
    assert saved["prepared"] == 5 and saved["modalities"] == ["mesti", "apex"]


def test_second_run_computes_nothing(tree: Path, tmp_path: Path, encoder_calls: Counter[str]) -> None:
    cache = tmp_path / "cache"
    adapter = create_dataset("casme2", tree)
    prepare(adapter, ["mesti", "flow_onset_apex"], cache, config=FAST, workers=1)
    before = npy_files(cache)
    encoder_calls.clear()

    report = prepare(adapter, ["mesti", "flow_onset_apex"], cache, config=FAST, workers=1)

    assert sum(encoder_calls.values()) == 0
    assert (report.computed, report.reused, report.prepared) == (0, 10, 5)
    assert npy_files(cache) == before  # not even rewritten


CHANGED = {"size": PreprocessConfig(face="none", size=20), "equalize": PreprocessConfig(face="none", equalize="off", size=24)}


@pytest.mark.parametrize("changed", list(CHANGED.values()), ids=list(CHANGED))
def test_changing_preprocessing_recomputes_everything(
    changed: PreprocessConfig, tree: Path, tmp_path: Path, encoder_calls: Counter[str]
) -> None:
    cache = tmp_path / "cache"
    adapter = create_dataset("casme2", tree)
    prepare(adapter, ["mesti", "apex"], cache, config=FAST, workers=1)
    encoder_calls.clear()

    report = prepare(adapter, ["mesti", "apex"], cache, config=changed, workers=1)

    assert encoder_calls == {"mesti": 5, "apex": 5}
    assert (report.reused, report.rebuilt) == (0, 0)  # new keys, not repairs of old files
    index = read_index(cache, "apex")
    assert all(np.load(index.path(e)).shape == (changed.size, changed.size, 3) for e in index.entries)
    assert index.settings["preprocess"] == changed.effective()
    # The first settings' images are still there: going back computes nothing.
    encoder_calls.clear()
    prepare(adapter, ["mesti", "apex"], cache, config=FAST, workers=1)
    assert sum(encoder_calls.values()) == 0


def test_adding_a_modality_computes_only_that_modality(tree: Path, tmp_path: Path, encoder_calls: Counter[str]) -> None:
    cache = tmp_path / "cache"
    adapter = create_dataset("casme2", tree)
    prepare(adapter, ["mesti"], cache, config=FAST, workers=1)
    mesti_files = {p: t for p, t in npy_files(cache).items() if p.parent.name == "mesti"}
    encoder_calls.clear()

    report = prepare(adapter, ["mesti", "dynamic_image"], cache, config=FAST, workers=1)

    assert encoder_calls == {"dynamic_image": 5}
    assert (report.computed, report.reused) == (5, 5)
    assert {p: t for p, t in npy_files(cache).items() if p.parent.name == "mesti"} == mesti_files


def test_encoder_options_are_part_of_the_key(tree: Path, tmp_path: Path, encoder_calls: Counter[str]) -> None:
    cache = tmp_path / "cache"
    adapter = create_dataset("casme2", tree)
    prepare(adapter, ["mesti"], cache, config=FAST, workers=1)
    encoder_calls.clear()
    # Stating the default explicitly is the same key; a different scaling is not.
    prepare(adapter, ["mesti"], cache, config=FAST, options={"mesti": {"scale": "minmax"}}, workers=1)
    assert sum(encoder_calls.values()) == 0
    prepare(adapter, ["mesti"], cache, config=FAST, options={"mesti": {"scale": "symmetric"}}, workers=1)
    assert encoder_calls == {"mesti": 5}
    assert read_index(cache, "mesti").settings["encoder"]["options"]["scale"] == "symmetric"


def test_a_changed_class_set_reuses_every_image(tree: Path, tmp_path: Path, encoder_calls: Counter[str]) -> None:
    """Labels move no pixel: switching 5 -> 3 classes only rewrites the index."""
    cache = tmp_path / "cache"
    prepare(create_dataset("casme2", tree, classes=5), ["apex"], cache, config=FAST, workers=1)
    encoder_calls.clear()

    report = prepare(create_dataset("casme2", tree, classes=3), ["apex"], cache, config=FAST, workers=1)

    assert sum(encoder_calls.values()) == 0
    index = read_index(cache, "apex")
    assert index.class_names == ["negative", "positive", "surprise"]
    assert sorted(e.label for e in index.entries) == ["negative", "negative", "positive", "surprise"]
    assert report.excluded == 2  # others and sadness are outside the 3 classes


def test_an_edited_frame_recomputes_only_its_clip(tree: Path, tmp_path: Path, encoder_calls: Counter[str]) -> None:
    cache = tmp_path / "cache"
    adapter = create_dataset("casme2", tree)
    prepare(adapter, ["mesti"], cache, config=FAST, workers=1)
    encoder_calls.clear()
    frame = tree / LABELLED_5[2].folder / "img12.jpg"
    frame.write_bytes(frame.read_bytes() + b"\0")  # size and mtime change

    report = prepare(adapter, ["mesti"], cache, config=FAST, workers=1)

    assert encoder_calls == {"mesti": 1}
    assert (report.computed, report.reused) == (1, 4)


def test_content_check_ignores_a_touch_that_stat_check_sees(tree: Path, tmp_path: Path, encoder_calls: Counter[str]) -> None:
    cache = tmp_path / "cache"
    adapter = create_dataset("casme2", tree)
    prepare(adapter, ["apex"], cache, config=FAST, workers=1, verify_frames="content")
    encoder_calls.clear()
    frame = tree / LABELLED_5[0].folder / "img10.jpg"
    os.utime(frame, ns=(1_000_000_000, 1_000_000_000))  # same bytes, other time

    prepare(adapter, ["apex"], cache, config=FAST, workers=1, verify_frames="content")
    assert sum(encoder_calls.values()) == 0
    prepare(adapter, ["apex"], cache, config=FAST, workers=1, verify_frames="stat")
    assert encoder_calls == {"apex": 5}  # a different check is a different key


def test_an_interrupted_run_keeps_finished_images_and_resumes(
    tree: Path, tmp_path: Path, encoder_calls: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mesti.pipeline.steps as work  # the pipeline's step that calls the encoder

    cache = tmp_path / "cache"
    adapter = create_dataset("casme2", tree)
    real = work.encode

    def interrupted_on_the_fifth_image(clip, modality, **options):  # type: ignore[no-untyped-def]
        if sum(encoder_calls.values()) == 4:  # four done: the fifth is interrupted
            raise KeyboardInterrupt
        return real(clip, modality, **options)

    monkeypatch.setattr(work, "encode", interrupted_on_the_fifth_image)
    with pytest.raises(KeyboardInterrupt):
        prepare(adapter, ["mesti", "apex"], cache, config=FAST, workers=1)

    # Four images were finished (clips 1-2, both modalities); nothing half-written remains.
    assert len(npy_files(cache)) == 4
    assert not list(cache.rglob("*.tmp"))
    with pytest.raises(MestiError, match="interrupted"):
        read_index(cache, "mesti")
    partial = read_index(cache, "mesti", allow_incomplete=True)
    assert [e.key for e in partial.entries] == [c.key for c in LABELLED_5[:2]]
    assert json.loads((cache / REPORT_NAME).read_text())["interrupted"] is True

    monkeypatch.setattr(work, "encode", real)
    report = prepare(adapter, ["mesti", "apex"], cache, config=FAST, workers=1)
    assert (report.computed, report.reused, report.prepared) == (6, 4, 5)
    assert read_index(cache, "mesti").complete


def test_corrupt_entries_are_detected_and_rebuilt(tree: Path, tmp_path: Path, encoder_calls: Counter[str]) -> None:
    cache = tmp_path / "cache"
    adapter = create_dataset("casme2", tree)
    prepare(adapter, ["mesti"], cache, config=FAST, workers=1)
    index = read_index(cache, "mesti")
    paths = [index.path(e) for e in index.entries]
    good = np.load(paths[0])
    paths[0].write_bytes(paths[0].read_bytes()[:-100])  # truncated
    np.save(paths[1], np.zeros((24, 24, 1), dtype=np.float32))  # wrong shape
    np.save(paths[2], np.zeros((24, 24, 3), dtype=np.float64))  # wrong dtype
    paths[3].write_bytes(b"not an npy file")
    encoder_calls.clear()

    report = prepare(adapter, ["mesti"], cache, config=FAST, workers=1)

    assert encoder_calls == {"mesti": 4}
    assert (report.rebuilt, report.computed, report.reused) == (4, 4, 1)
    assert all(entry_ok(p, (24, 24, 3)) for p in paths)
    assert np.array_equal(np.load(paths[0]), good)  # rebuilt to the same image


def test_failed_clips_are_reported_and_the_rest_prepared(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (tree / LABELLED_5[1].folder / "img13.jpg").unlink()  # a frame between onset and offset
    bad = tree / LABELLED_5[3].folder / "img11.jpg"
    bad.write_bytes(b"garbage")  # unreadable frame

    report = prepare(create_dataset("casme2", tree), ["mesti"], cache, config=FAST, workers=1)

    assert (report.prepared, report.skipped) == (3, 2)
    assert report.summary().startswith("3 prepared, 2 skipped")
    errors = {f["key"]: f["error"] for f in report.failures}
    assert set(errors) == {LABELLED_5[1].key, LABELLED_5[3].key}
    assert "missing frame" in errors[LABELLED_5[1].key] and "img13.jpg" in errors[LABELLED_5[1].key]
    assert "img11.jpg" in errors[LABELLED_5[3].key] and "cannot read" in errors[LABELLED_5[3].key]
    assert [e.key for e in read_index(cache, "mesti").entries] == [LABELLED_5[i].key for i in (0, 2, 4)]
    saved = json.loads((cache / REPORT_NAME).read_text())
    assert {f["key"] for f in saved["failures"]} == set(errors)


@pytest.mark.skipif(importlib.util.find_spec("dlib") is None, reason="dlib (the 'face' extra) is not installed")
def test_a_clip_without_a_face_is_skipped_with_its_reason(tmp_path: Path) -> None:
    face = np.stack([small_face(80)] * 4)
    clips = (
        FakeClip(1, "EP01_01f", "happiness", frames=face),
        FakeClip(2, "EP02_01f", "surprise", length=4),  # a texture: no face in it
    )
    root = write_tree(tmp_path / "casme2", clips, size=80)
    cache = tmp_path / "cache"

    report = prepare(create_dataset("casme2", root), ["apex"], cache, config=PreprocessConfig(size=32), workers=1)

    assert (report.prepared, report.skipped) == (1, 1)
    assert report.failures[0]["key"] == "casme2/sub02/EP02_01f"
    assert "no face found on the onset frame" in report.failures[0]["error"]
    assert [e.key for e in read_index(cache, "apex").entries] == ["casme2/sub01/EP01_01f"]


def test_worker_processes_give_the_same_cache_as_one_process(tree: Path, tmp_path: Path) -> None:
    adapter = create_dataset("casme2", tree)
    serial = prepare(adapter, ["mesti", "flow_onset_apex"], tmp_path / "one", config=FAST, workers=1)
    pooled = prepare(adapter, ["mesti", "flow_onset_apex"], tmp_path / "two", config=FAST, workers=2)
    assert serial.prepared == pooled.prepared == 5
    for m in ("mesti", "flow_onset_apex"):
        a, b = read_index(tmp_path / "one", m), read_index(tmp_path / "two", m)
        assert a.entries == b.entries  # same keys, files, labels, order
        for e in a.entries:
            np.testing.assert_array_equal(np.load(a.path(e)), np.load(b.path(e)))


def test_bad_requests_fail_before_any_work(tree: Path, tmp_path: Path) -> None:
    adapter = create_dataset("casme2", tree)
    with pytest.raises(MestiError, match="unknown modality"):
        prepare(adapter, ["mesti", "optical_flux"], tmp_path / "c", config=FAST)
    with pytest.raises(MestiError, match="not requested"):
        prepare(adapter, ["mesti"], tmp_path / "c", config=FAST, options={"apex": {}})
    with pytest.raises(MestiError, match="unknown option"):
        prepare(adapter, ["mesti"], tmp_path / "c", config=FAST, options={"mesti": {"gamma": 2}})
    assert not list((tmp_path / "c").glob("*/*.npy")) if (tmp_path / "c").exists() else True


class NarrowClasses:
    """Any object with records(), class_names and name is an adapter; this one lacks a class."""

    name = "casme2"
    issues: list[str] = []

    def __init__(self, root: Path) -> None:
        self.inner = create_dataset("casme2", root)
        self.class_names = [c for c in self.inner.class_names if c != "surprise"]

    def records(self):  # type: ignore[no-untyped-def]
        return self.inner.records()


def test_a_label_outside_the_class_names_fails_that_clip_only(tree: Path, tmp_path: Path) -> None:
    report = prepare(NarrowClasses(tree), ["apex"], tmp_path / "cache", config=FAST, workers=1)
    assert (report.prepared, report.skipped) == (4, 1)
    assert "label 'surprise' is not one of the classes" in report.failures[0]["error"]
