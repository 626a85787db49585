from __future__ import annotations

from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.modalities import list_modalities

runner = CliRunner()


def test_modalities_lists_every_modality_with_its_declared_options() -> None:
    res = runner.invoke(app, ["modalities"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    for name in list_modalities():
        assert name in res.output
    assert "symmetric_range: float = 16.0 (> 0)" in res.output
    assert "which" not in res.output  # fixed by the name, not an option


def test_modalities_shows_one_in_full_and_refuses_an_unknown_name() -> None:
    res = runner.invoke(app, ["modalities", "flow_onset_apex"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "channels: str = 'uvs' (uvs | uvm)" in res.output and "flow channels: uvs" in res.output
    res = runner.invoke(app, ["modalities", "--match", "flow_*"], env={"COLUMNS": "200"})
    assert "flow_apex_offset" in res.output and "dynamic_image" not in res.output
    res = runner.invoke(app, ["modalities", "warp"])
    assert res.exit_code == 2 and "unknown modality 'warp'" in res.stderr
