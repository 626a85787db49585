"""ONNX export agrees with PyTorch under onnxruntime; ``mesti export`` and ``mesti models``.

MEGANet is exported at 64 x 64 (its layers do not depend on the size; 224 takes ~5 s) with
gamma set to 0.5 so the self-attention path really is in the graph; ResNet-50 at 64 x 64
stands for the torchvision baselines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.errors import MestiError
from mesti.models import create_model, list_models, save_checkpoint
from mesti.models.export import export_onnx
from mesti.models.layers import SelfAttention2d

runner = CliRunner()


def _set_gamma(model: torch.nn.Module, value: float) -> None:
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, SelfAttention2d):
                layer.gamma.fill_(value)


def _meganet_with_attention(**kwargs: object) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model("meganet", 3, img_size=64, **kwargs)  # type: ignore[arg-type]
    _set_gamma(model, 0.5)
    return model


def _run_onnx(path: Path, x: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x.numpy()})[0]


@pytest.mark.parametrize("pad_qk", [None, False])
def test_meganet_onnx_agrees_with_pytorch(tmp_path: Path, pad_qk: bool | None) -> None:
    model = _meganet_with_attention(attn_pad_qk=pad_qk)
    result = export_onnx(model, tmp_path / "meganet.onnx")
    assert result.max_abs_diff <= result.tolerance
    graph = onnx.load(str(result.path))
    onnx.checker.check_model(graph)
    assert graph.opset_import[0].version >= 17
    x = torch.randn(3, 3, 64, 64)  # a batch size the export never saw
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(_run_onnx(result.path, x), expected, rtol=1e-4, atol=1e-4)
    # The attention contributes: without it the logits differ.
    _set_gamma(model, 0.0)
    with torch.no_grad():
        assert not np.allclose(model(x).numpy(), expected, atol=1e-3)


def test_resnet50_onnx_agrees_with_pytorch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    result = export_onnx(create_model("resnet50", 5, img_size=64), tmp_path / "resnet50.onnx")
    assert result.max_abs_diff <= result.tolerance < 1e-2


def test_a_failed_check_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "meganet.onnx"
    with pytest.raises(MestiError, match="differs from PyTorch"):
        export_onnx(_meganet_with_attention(), out, atol=-1.0)
    assert list(tmp_path.iterdir()) == []


def test_cli_export(tmp_path: Path) -> None:
    ckpt = save_checkpoint(_meganet_with_attention(), tmp_path / "meganet.pt")
    out = tmp_path / "meganet.onnx"
    result = runner.invoke(app, ["export", str(ckpt), "--onnx", str(out)])
    assert result.exit_code == 0, result.output
    assert "max |diff| =" in result.output and out.is_file()


def test_cli_export_refuses_a_bad_checkpoint(tmp_path: Path) -> None:
    ckpt = save_checkpoint(_meganet_with_attention(), tmp_path / "meganet.pt")
    # A protocol-2 pickle of os.system("true"): harmless if it ran, refused before it can.
    ckpt.write_bytes(b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.")
    result = runner.invoke(app, ["export", str(ckpt), "--onnx", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2
    assert "refused" in result.output
    assert not (tmp_path / "m.onnx").exists()


def test_cli_models_lists_every_network_with_its_size_and_parameters() -> None:
    result = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in list_models():
        assert name in result.output
    assert "1,683" in result.output and "2,664,475" in result.output and "3 x 28 x 28" in result.output
    five = runner.invoke(app, ["models", "--num-classes", "5"], env={"COLUMNS": "200"})
    assert "5,944,839" in five.output


def test_cli_models_shows_one_network_with_its_recipe() -> None:
    result = runner.invoke(app, ["models", "off_apexnet"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "2,664,475" in result.output and "epochs: 3000" in result.output and "[NV]" in result.output
    assert runner.invoke(app, ["models", "nope"]).exit_code == 2
