"""Dropout with per-fold masks: ``vmap`` cannot give each fold its own random stream, so
every dropout-like module is swapped for one that multiplies by a mask drawn outside
``vmap``, per fold, from a generator that continues the stream the sequential engine's
dropout draws from (in the memory order torch fills it in)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from mesti.errors import MestiError
from mesti.engine.folds import Autocast


@dataclass
class Noise:
    """One dropout-like module of the network: what it draws and the input it sees."""

    name: str
    kind: str  # "dropout", "dropout2d" or "stochastic_depth"
    p: float
    mode: str = "row"
    shape: tuple[int, ...] = ()  # one sample's input shape
    dtype: torch.dtype = torch.float32
    fill_order: tuple[int, ...] = ()  # the input's dims, outermost in memory first (dropout only)


class FoldNoise(nn.Module):
    """Stands in for a dropout-like module: multiplies by ``mask``, drawn per fold outside
    ``vmap`` and handed in through :func:`~torch.func.functional_call`."""

    def __init__(self, kind: str, p: float) -> None:
        super().__init__()
        self.kind, self.p = kind, p
        self.register_buffer("mask", torch.empty(0), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.kind != "stochastic_depth" and self.p == 1.0:  # torch's dropout: zeros, no draw
            return x * torch.zeros((), dtype=x.dtype, device=x.device)
        return x * self.mask


def noise_kind(module: nn.Module) -> tuple[str, float, str] | None:
    if type(module) is nn.Dropout:
        return "dropout", float(module.p), "row"
    if type(module) is nn.Dropout2d:
        return "dropout2d", float(module.p), "row"
    if type(module).__name__ == "StochasticDepth" and type(module).__module__.startswith("torchvision"):
        return "stochastic_depth", float(module.p), str(module.mode)  # type: ignore[attr-defined]
    return None


def swap_noise_modules(model: nn.Module) -> dict[str, Noise]:
    """Replace every dropout-like module of ``model`` by a :class:`FoldNoise`."""
    found: dict[str, Noise] = {}
    for name, module in list(model.named_modules()):
        kind = noise_kind(module)
        if kind is None:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, FoldNoise(kind[0], kind[1]))
        found[name] = Noise(name, *kind)
    return found


def mask_shape(noise: Noise, b: int) -> tuple[int, ...]:
    """The noise tensor torch draws for a batch of ``b``: all of the input for dropout,
    one value per channel for dropout2d, per sample (or per batch) for stochastic depth."""
    shape = (b, *noise.shape)
    if noise.kind == "dropout2d":
        return (b, noise.shape[0], *([1] * (len(noise.shape) - 1)))
    if noise.kind == "stochastic_depth":
        return (b, *([1] * len(noise.shape))) if noise.mode == "row" else (1,) * len(shape)
    return shape


def fill_order(t: Tensor) -> tuple[int, ...]:
    """The dims of ``t`` from outermost to innermost in memory, as ``torch.empty_like``
    would lay out its copy (contiguous unless ``t`` is dense in another order)."""
    natural = tuple(range(t.ndim))
    if t.is_contiguous():
        return natural
    order = tuple(sorted(natural, key=lambda d: (-t.stride(d), d)))
    expected = 1
    for d in reversed(order):
        if t.size(d) != 1 and t.stride(d) != expected:
            return natural
        expected *= t.size(d)
    return order


def draw_masks(noises: Sequence[Noise], gens: Sequence[torch.Generator], b: int, device: torch.device) -> dict[str, Tensor]:
    """Each fold's masks for one step from its own generator, in the order its forward
    calls the modules (the order torch's dropout draws in), stacked along the fold axis.

    Torch's dropout fills a noise tensor laid out like its input (``empty_like``), so a mask
    for a channels-last input is drawn in that memory order and permuted back: the same
    values land on the same elements as in ``train_fold`` on the CPU.
    """
    masks: dict[str, Tensor] = {}
    for noise in noises:
        if noise.p == 0.0 or (noise.kind != "stochastic_depth" and noise.p == 1.0):
            continue
        keep = 1.0 - noise.p
        shape = mask_shape(noise, b)
        order = noise.fill_order if noise.kind == "dropout" and noise.fill_order else tuple(range(len(shape)))
        buf = torch.empty((len(gens), *(shape[d] for d in order)), dtype=noise.dtype, device=device)
        for f, gen in enumerate(gens):
            buf[f].bernoulli_(keep, generator=gen)
        if keep > 0:
            buf.div_(keep)
        masks[f"{noise.name}.mask"] = buf.permute(0, *(1 + order.index(d) for d in range(len(shape))))
    return masks


def noise_generator(seed: int, device: torch.device) -> torch.Generator:
    """On the CPU: a copy of the global generator right after the fold's model was built,
    i.e. the stream ``train_fold``'s dropout draws from. On CUDA torch's fused dropout
    kernel draws differently anyway, so the fold seed starts a device generator."""
    if device.type == "cpu":
        gen = torch.Generator()
        gen.set_state(torch.get_rng_state())
        return gen
    return torch.Generator(device=device).manual_seed(seed)


@torch.no_grad()
def probe(model: nn.Module, x: Tensor, noises: dict[str, Noise], autocast: Autocast) -> tuple[list[Noise], int]:
    """One eval-mode forward of a small batch: the order and input shape of the dropout-like
    modules, and the bytes of every leaf module's output per sample (memory estimate)."""
    order: list[Noise] = []
    act_bytes = 0

    def on_noise(name: str, module: nn.Module, args: tuple[Tensor, ...]) -> None:
        noise = noises[name]
        if any(n is noise for n in order):
            raise MestiError("stacked engine", f"module {name} runs twice in one forward; use --engine sequential")
        noise.shape, noise.dtype, noise.fill_order = tuple(args[0].shape[1:]), args[0].dtype, fill_order(args[0])
        order.append(noise)

    def on_leaf(module: nn.Module, args: tuple[object, ...], out: object) -> None:
        nonlocal act_bytes
        if isinstance(out, Tensor):
            act_bytes += out.numel() * out.element_size()

    handles = []
    for name, module in model.named_modules():
        if name in noises:
            handles.append(module.register_forward_pre_hook(partial(on_noise, name)))
        elif not any(True for _ in module.children()):
            handles.append(module.register_forward_hook(on_leaf))
    was_training = model.training
    model.eval()
    try:
        with autocast():
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    # a module the forward never calls is left out: it draws nothing, in torch either
    return order, act_bytes // max(len(x), 1)
