from __future__ import annotations

import inspect

import numpy as np
import pytest

from mesti.clips import load_clip
from mesti.errors import MestiError
from mesti.modalities import TVL1Params, encode, encode_batch, get_modality, list_modalities
from mesti.modalities.options import Option, resolve_options
from tests.conftest import moving_clip


@pytest.fixture(scope="module")
def clip():  # type: ignore[no-untyped-def]
    return load_clip(moving_clip(length=10, apex=4, size=32), apex=4)


def test_a_modality_cannot_be_told_what_its_name_fixes(clip) -> None:  # type: ignore[no-untyped-def]
    # The flow pair and the rank-pooling variant come with the name: passing them is refused,
    # not silently obeyed under the wrong name.
    with pytest.raises(MestiError, match=r"flow_onset_apex: unknown option\(s\) which; it takes channels, scale"):
        encode(clip, "flow_onset_apex", which="apex_offset")
    with pytest.raises(MestiError, match="unknown option"):
        encode_batch([clip], "flow_apex_offset", which="onset_apex")
    with pytest.raises(MestiError, match=r"unknown option\(s\) variant"):
        encode(clip, "dynamic_image_simplified", variant="bilen")
    with pytest.raises(MestiError, match=r"apex: unknown option\(s\) scale; it takes none"):
        encode(clip, "apex", scale="raw")
    assert "which" not in get_modality("flow_onset_apex").options


@pytest.mark.parametrize("name", list_modalities())
def test_declared_options_match_both_encoders(name: str) -> None:
    """Every declared option reaches the numpy and the torch encoder with the same default."""
    spec = get_modality(name)
    for fn in (spec.numpy_fn, spec.torch_fn):
        params = inspect.signature(fn).parameters
        for opt in spec.params:
            assert opt.name in params, f"{name}: {fn} does not take {opt.name}"
            assert params[opt.name].default == opt.default, f"{name}: default of {opt.name}"
    assert all(o.help and o.describe().startswith(f"{o.name}: ") for o in spec.params)


def test_options_are_checked_for_type_and_range_in_one_place(clip) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MestiError, match="symmetric_range must be > 0, got -1.0"):
        encode(clip, "mesti", scale="symmetric", symmetric_range=-1.0)
    with pytest.raises(MestiError, match="symmetric_range must be a float, got '16'"):
        encode(clip, "mesti", symmetric_range="16")
    with pytest.raises(MestiError, match="flow_range must be finite"):
        encode_batch([clip], "flow_onset_apex", flow_range=float("inf"))
    with pytest.raises(MestiError, match="unknown strain_scheme 'sobel'; choose one of backward, forward, central"):
        encode(clip, "optical_strain", strain_scheme="sobel")
    with pytest.raises(MestiError, match="scale must be a str, got 3"):
        encode(clip, "dynamic_image", scale=3)
    # An int where a float is declared is the same option value (and the same cache key).
    a = encode(clip, "mesti", scale="symmetric", symmetric_range=8)
    b = encode(clip, "mesti", scale="symmetric", symmetric_range=8.0)
    np.testing.assert_array_equal(a, b)


def test_defaults_fill_every_option_and_structured_options_accept_mappings() -> None:
    spec = get_modality("optical_strain")
    full = spec.check_options({"tvl1": {"nscales": 3}})
    assert full == {"scale": "minmax", "strain_scheme": "backward", "strain_range": 0.25, "tvl1": TVL1Params(nscales=3)}
    with pytest.raises(MestiError, match="tvl1"):
        spec.check_options({"tvl1": {"levels": 3}})
    with pytest.raises(MestiError, match="tvl1 must be a TVL1Params"):
        spec.check_options({"tvl1": 3})


def test_option_bounds_and_booleans() -> None:
    declared = (Option("k", int, 2, "a count", ge=1, le=4), Option("on", bool, False, "a switch"))
    assert resolve_options("x", declared, {"k": 3.0}) == {"k": 3, "on": False}
    assert type(resolve_options("x", declared, {"k": np.int64(3)})["k"]) is int
    with pytest.raises(MestiError, match="k must be <= 4, got 5"):
        resolve_options("x", declared, {"k": 5})
    with pytest.raises(MestiError, match="k must be an int"):
        resolve_options("x", declared, {"k": 2.5})
    with pytest.raises(MestiError, match="on must be a bool, got 1"):
        resolve_options("x", declared, {"on": 1})
    assert declared[0].describe() == "k: int = 2 (>= 1, <= 4)"
