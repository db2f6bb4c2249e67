"""fxsnn._arith's branch-free decay equals the literal rule of docs/fixed-point.md section 3
(:func:`fxsnn.reference.decay`), in int64 and in int32, at every edge of every mode."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fxsnn import reference
from fxsnn._arith import MODE_MULTIPLY, MODE_SHIFT, decay, decay_factors
from fxsnn.network import LayerParams


@numba.njit
def decay64(x, mode, constant, frac_bits):
    keep, gain = decay_factors(mode, constant, frac_bits)
    return decay(np.int64(x), keep, gain)


@numba.njit
def decay32(x, mode, constant, frac_bits):
    keep, gain = decay_factors(mode, constant, frac_bits)
    return decay(np.int32(x), keep, gain)


def literal(x: int, mode: int, constant: int, frac_bits: int) -> int:
    params = LayerParams(
        state_bits=32,
        decay_mode="multiply" if mode == MODE_MULTIPLY else "shift",
        frac_bits=frac_bits,
        syn_decay=constant,
        mem_decay=0,
    )
    return reference.decay(x, constant, params)


def edge_values(limit: int) -> list[int]:
    """0, +-1, every +-2**k and its neighbours up to ``limit`` (inclusive)."""
    values = {0, 1, -1, limit, -limit}
    for k in range(1, limit.bit_length() + 1):
        for v in (1 << k) - 1, 1 << k, (1 << k) + 1:
            if v <= limit:
                values.update((v, -v))
    return sorted(values)


def modes():
    """Every decay mode with its edge constants: d in {0, 1, 2**F - 1, 2**F} and the paper's; k = 0..31."""
    for frac in (1, 2, 12, 15, 16):
        for d in sorted({0, 1, (1 << frac) // 2, (1 << frac) - 1, 1 << frac}):
            yield MODE_MULTIPLY, d, frac
    yield MODE_MULTIPLY, 3354, 12
    yield MODE_MULTIPLY, 3706, 12
    for k in range(32):
        yield MODE_SHIFT, k, 12


X64 = edge_values(1 << 31)  # any state of a 32-bit layer, and |MIN| = 2**31
X32 = edge_values(1 << 29)  # any state of a layer the emulator computes in int32 (state_bits <= 30)


@pytest.mark.parametrize("mode,constant,frac", list(modes()))
def test_decay_equals_literal_rule_at_edges(mode, constant, frac):
    for x in X64:
        want = literal(x, mode, constant, frac)
        got = int(decay64(x, mode, constant, frac))
        assert got == want, f"int64 decay({x}) mode={mode} constant={constant} F={frac}: {got} != {want}"
    for x in X32:
        want = literal(x, mode, constant, frac)
        got = int(decay32(x, mode, constant, frac))
        assert got == want, f"int32 decay({x}) mode={mode} constant={constant} F={frac}: {got} != {want}"


def test_decay_computes_in_the_type_of_its_argument():
    """int32 in, int32 arithmetic out (the emulator's SIMD width depends on it); int64 likewise."""
    decay32(5, MODE_MULTIPLY, 3354, 12)
    decay64(5, MODE_MULTIPLY, 3354, 12)
    assert decay32.nopython_signatures[0].return_type == numba.int32
    assert decay64.nopython_signatures[0].return_type == numba.int64


@settings(max_examples=2000, deadline=None)
@given(
    x=st.integers(-(1 << 31), 1 << 31),
    frac=st.integers(1, 16),
    data=st.data(),
)
def test_decay_equals_literal_rule_multiply(x, frac, data):
    d = data.draw(st.integers(0, 1 << frac))
    assert int(decay64(x, MODE_MULTIPLY, d, frac)) == literal(x, MODE_MULTIPLY, d, frac)
    if abs(x) <= 1 << 29:
        assert int(decay32(x, MODE_MULTIPLY, d, frac)) == literal(x, MODE_MULTIPLY, d, frac)


@settings(max_examples=2000, deadline=None)
@given(x=st.integers(-(1 << 31), 1 << 31), k=st.integers(0, 31))
def test_decay_equals_literal_rule_shift(x, k):
    assert int(decay64(x, MODE_SHIFT, k, 12)) == literal(x, MODE_SHIFT, k, 12)
    if abs(x) <= 1 << 29:
        assert int(decay32(x, MODE_SHIFT, k, 12)) == literal(x, MODE_SHIFT, k, 12)
