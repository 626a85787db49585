"""ONNX export, checked against PyTorch with onnxruntime before the file is kept.

Uses the TorchScript-based exporter (``dynamo=False``): in this environment the dynamo
exporter needs ``onnxscript``, which is not a dependency, while the TorchScript exporter
runs offline and maps ``scaled_dot_product_attention`` (with its explicit scale) to plain
ONNX ops from opset 14. PyTorch marks it deprecated, so the warning is silenced here.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch
from torch import nn
from torch.onnx import _constants as _onnx_constants
from torch.onnx.errors import OnnxExporterError

from mesti.errors import MestiError
from mesti.models.info import model_info
from mesti.utils.atomic import atomic_path

DEFAULT_OPSET = 17
MIN_OPSET = 17
#: The newest opset the TorchScript exporter of the installed torch writes.
MAX_OPSET = int(getattr(_onnx_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20))


@dataclass(frozen=True)
class ExportResult:
    """Where the model went and how closely onnxruntime reproduced PyTorch."""

    path: Path
    input_shape: tuple[int, ...]
    max_abs_diff: float
    tolerance: float


def _onnxruntime() -> ModuleType:
    """onnxruntime, or a clear error: onnx and onnxruntime are the optional ``export`` extra."""
    try:
        import onnx  # noqa: F401
        import onnxruntime
    except ImportError:
        raise MestiError("--onnx", "ONNX export needs onnx and onnxruntime: pip install 'mesti[export]'") from None
    return onnxruntime


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    seed: int = 0,
) -> ExportResult:
    """Export ``model`` (eval mode, dynamic batch) and verify it before ``path`` appears.

    The network's ``model_info.input_size`` fixes ``C x H x W``. onnxruntime runs the file on
    a seeded random batch of 2 (the export traced a batch of 1, so the dynamic batch axis is
    checked too); when ``max |onnx - torch|`` exceeds ``atol + rtol * max |torch|`` nothing
    is written and a :class:`MestiError` says by how much.
    """
    ort = _onnxruntime()
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise MestiError("--opset", f"must lie in {MIN_OPSET}..{MAX_OPSET} (what this torch exports), got {opset}")
    c, h, w = model_info(model).input_size
    gen = torch.Generator().manual_seed(seed)
    traced_input = torch.randn(1, c, h, w, generator=gen)
    check_input = torch.randn(2, c, h, w, generator=gen)
    model = model.eval()
    with torch.no_grad():
        expected = model(check_input).numpy()
    final = Path(path)
    with atomic_path(final) as tmp:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    model, (traced_input,), str(tmp), dynamo=False, opset_version=opset,
                    input_names=["input"], output_names=["logits"],
                    dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                )
        except OnnxExporterError as exc:  # e.g. VGG's 7x7 adaptive pool below 224 px
            raise MestiError(final, f"ONNX export failed: {str(exc).splitlines()[0]}") from None
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        (got,) = session.run(None, {"input": check_input.numpy()})
        diff = float(abs(got - expected).max())
        tolerance = atol + rtol * float(abs(expected).max())
        if not diff <= tolerance:
            raise MestiError(final, f"onnxruntime output differs from PyTorch by {diff:.3g} (tolerance {tolerance:.3g}); not written")
    return ExportResult(final, tuple(check_input.shape), diff, tolerance)
