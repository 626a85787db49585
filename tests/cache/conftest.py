"""A fresh tiny CASME II tree per test, an encoder-call counter, and cheap settings."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import mesti.pipeline.steps as work  # the pipeline's step that calls the encoder
from mesti.preprocessing import PreprocessConfig
from tests.cache.casme2_tree import write_tree

#: Face crops already (no detector) and tiny images: these tests are about the cache.
FAST = PreprocessConfig(face="none", size=24)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "CASME2_RAW_selected")


@pytest.fixture
def encoder_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts encoder calls per modality in this process (use ``workers=1``)."""
    calls: Counter[str] = Counter()
    real = work.encode

    def counting(clip, modality, **options):  # type: ignore[no-untyped-def]
        calls[modality] += 1
        return real(clip, modality, **options)

    monkeypatch.setattr(work, "encode", counting)
    return calls
