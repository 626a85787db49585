"""``--engine auto`` runs the sequential engine everywhere until the GPU check has passed (issue 15)."""

from __future__ import annotations

import pytest

from mesti.errors import MestiError
from mesti.engine.stacked import AUTO_ENGINE, ENGINES, resolve_engine


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:1", "auto"])
def test_auto_is_sequential_on_every_device_until_the_gpu_check_passed(device: str) -> None:
    # resolve_device builds the device without touching it, so "cuda" resolves on a CPU machine too.
    assert resolve_engine("auto", device) == "sequential"


def test_the_stacked_engine_stays_one_flag_away() -> None:
    for device in ("cpu", "cuda", "cuda:0"):
        assert resolve_engine("stacked", device) == "stacked"
        assert resolve_engine("sequential", device) == "sequential"
    assert set(AUTO_ENGINE) == {"cpu", "cuda"} and set(AUTO_ENGINE.values()) <= set(ENGINES) - {"auto"}
    with pytest.raises(MestiError, match="unknown engine 'vmap'"):
        resolve_engine("vmap", "cuda")


def test_the_engine_help_says_what_auto_runs() -> None:
    from typer.testing import CliRunner

    from mesti.cli.main import app

    out = CliRunner().invoke(app, ["loso", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}).output
    assert "auto: sequential, on CUDA too" in " ".join(out.split())
