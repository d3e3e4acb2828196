"""StyleGAN3 building blocks: FIR filters, upfirdn2d, filtered leaky ReLU, modulated conv."""

import math

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F

from segbench_gan.stylegan3.filters import design_lowpass_filter, jinc_lowpass, kaiser_lowpass
from segbench_gan.stylegan3.ops import filtered_lrelu, modulated_conv2d, upfirdn2d

torch.set_num_threads(1)


def _upfirdn_by_definition(x, f, up, down, pad, gain):
    """Zero insertion, zero padding (negative: crop), 2D convolution, decimation, in numpy."""
    px0, px1, py0, py1 = pad
    n, c, h, w = x.shape
    z = np.zeros((n, c, h * up, w * up))
    z[:, :, ::up, ::up] = x
    z = np.pad(z, ((0, 0), (0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0))))
    z = z[:, :, max(-py0, 0) : z.shape[2] - max(-py1, 0), max(-px0, 0) : z.shape[3] - max(-px1, 0)]
    kernel = (np.outer(f, f) if f.ndim == 1 else f) * gain
    out = np.array([[scipy.signal.convolve2d(z[i, j], kernel, mode="valid") for j in range(c)] for i in range(n)])
    return out[:, :, ::down, ::down]


_CASES = [
    (taps, up, down, pad)
    for taps in [(12,), (24,), (7,), (12, 12)]
    for up, down in [(1, 1), (2, 1), (4, 1), (1, 2), (2, 2), (3, 1)]
    for pad in [(9, 8, 9, 8), (-6, -9, -6, -9), (3, -2, 1, 5), (14, 14, 14, 14)]
    if min(13 * up + pad[2] + pad[3], 11 * up + pad[0] + pad[1]) >= taps[0]  # signal longer than filter
]


@pytest.mark.parametrize("taps,up,down,pad", _CASES)
def test_upfirdn2d_equals_its_definition(taps, up, down, pad):
    rng = np.random.default_rng(0)
    x, f = rng.standard_normal((2, 3, 13, 11)), rng.standard_normal(taps)
    got = upfirdn2d(torch.tensor(x), torch.tensor(f), up=up, down=down, padding=pad, gain=up**2).numpy()
    expected = _upfirdn_by_definition(x, f, up, down, pad, up**2)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-10)


def test_upfirdn2d_without_filter_is_zero_insertion_and_padding():
    x = torch.arange(4.0).reshape(1, 1, 2, 2)
    y = upfirdn2d(x, None, up=2, padding=(1, 0, 0, 1))
    assert y[0, 0].tolist() == [[0, 0, 0, 1, 0], [0, 0, 0, 0, 0], [0, 2, 0, 3, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]


def _response(taps, freqs, fs):
    """|H(f)| of a symmetric FIR filter at frequencies ``freqs``."""
    n = np.arange(len(taps)) - (len(taps) - 1) / 2
    return np.abs(np.exp(-2j * np.pi * np.outer(freqs, n) / fs) @ taps)


def test_kaiser_lowpass_has_unit_dc_gain_and_suppresses_the_stopband():
    # Layer 0 of the paper's 256 px config: cutoff f_c = 2, sampling rate 16 (stopband
    # f_t = 8 = s / 2, half-width f_h = 6), filter running at 2 * 16 = 32.
    fs, cutoff, half_width = 32.0, 2.0, 6.0
    f = kaiser_lowpass(12, cutoff=cutoff, width=2 * half_width, fs=fs)
    assert f.shape == (12,)
    assert f.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(f, f[::-1])
    passband = _response(f, np.linspace(0, cutoff + half_width, 33), fs)
    assert passband[0] == pytest.approx(1.0)
    assert np.all(np.diff(passband) < 0)  # monotone roll-off, no ripple
    assert _response(f, np.linspace(cutoff + half_width, fs / 2, 33), fs).max() < 1e-3


def test_jinc_lowpass_is_radially_symmetric():
    f = jinc_lowpass(12, cutoff=8.0, width=8.0, fs=32.0)
    assert f.shape == (12, 12)
    assert f.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(f, f.T, atol=1e-15)
    np.testing.assert_allclose(f, np.rot90(f), atol=1e-15)
    np.testing.assert_allclose(f, f[::-1, ::-1], atol=1e-15)


def test_design_lowpass_filter_identity_and_validation():
    assert design_lowpass_filter(1, cutoff=2.0, width=4.0, fs=16.0) is None
    assert design_lowpass_filter(12, 2.0, 4.0, 16.0).dtype == torch.float32
    assert design_lowpass_filter(12, 2.0, 4.0, 16.0, radial=True).shape == (12, 12)
    with pytest.raises(ValueError, match=r"cutoff must lie in \(0, fs/2\)"):
        kaiser_lowpass(12, cutoff=9.0, width=4.0, fs=16.0)


def _layer_filters():
    fu = design_lowpass_filter(12, cutoff=4.0, width=8.0, fs=32.0)
    fd = design_lowpass_filter(12, cutoff=4.0, width=8.0, fs=32.0)
    return fu, fd


def test_filtered_lrelu_shape_and_finite_output():
    fu, fd = _layer_filters()
    x = torch.randn(2, 4, 20, 20) * 100
    y = filtered_lrelu(x, fu, fd, bias=torch.zeros(4), up=2, down=2, padding=(11, 11, 11, 11), clamp=256)
    # (20 * 2 + 22 - 11 - 11) / 2 = 20
    assert y.shape == (2, 4, 20, 20)
    assert torch.isfinite(y).all()


def test_filtered_lrelu_linear_case_is_identity_plus_bias():
    x = torch.randn(2, 3, 8, 8)
    b = torch.tensor([1.0, -2.0, 0.5])
    y = filtered_lrelu(x, bias=b, gain=1.0, slope=1.0)
    torch.testing.assert_close(y, x + b.reshape(1, 3, 1, 1))


def test_filtered_lrelu_clamps_after_gain():
    y = filtered_lrelu(torch.full((1, 1, 4, 4), 10.0), gain=2.0, slope=0.2, clamp=5.0)
    assert torch.equal(y, torch.full((1, 1, 4, 4), 5.0))


def test_filtered_lrelu_is_equivariant_to_integer_translation():
    """Shifting the input by whole pixels shifts the output by the same amount (away from
    the borders): the nonlinearity runs on the 2x grid, whose samples the input's
    samples map onto exactly."""
    fu, fd = _layer_filters()
    torch.manual_seed(0)
    x = torch.randn(1, 2, 40, 40)
    shift = 3
    kw = dict(bias=torch.tensor([0.1, -0.1]), up=2, down=2, padding=(11, 11, 11, 11))
    y = filtered_lrelu(x, fu, fd, **kw)
    y_shifted = filtered_lrelu(torch.roll(x, shift, dims=3), fu, fd, **kw)
    interior = slice(12, 28)
    torch.testing.assert_close(y_shifted[..., interior, interior], y[..., interior, interior.start - shift:
                                                                       interior.stop - shift],
                               atol=1e-5, rtol=0)


def test_modulated_conv2d_equals_per_sample_convolution():
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 4, 9, 9), torch.randn(5, 4, 3, 3), torch.randn(3, 4)
    gain = torch.tensor(0.5)
    y = modulated_conv2d(x, weight, styles, demodulate=True, padding=1, input_gain=gain)
    for i in range(3):
        w = weight * styles[i].reshape(1, 4, 1, 1)
        w = w / w.square().sum(dim=(1, 2, 3), keepdim=True).sqrt()
        torch.testing.assert_close(y[i : i + 1], F.conv2d(x[i : i + 1] * gain, w, padding=1), atol=1e-5, rtol=1e-5)


def test_modulated_conv2d_without_demodulation_is_plain_modulation():
    x, weight, styles = torch.randn(2, 3, 5, 5), torch.randn(2, 3, 1, 1), torch.randn(2, 3)
    y = modulated_conv2d(x, weight, styles, demodulate=False)
    expected = torch.stack([F.conv2d(x[i : i + 1], weight * styles[i].reshape(1, 3, 1, 1))[0] for i in range(2)])
    torch.testing.assert_close(y, expected)


def test_modulated_conv2d_rejects_mismatched_styles():
    with pytest.raises(ValueError, match="disagree on batch or input channels"):
        modulated_conv2d(torch.randn(2, 3, 5, 5), torch.randn(4, 3, 3, 3), torch.randn(2, 4))


def test_demodulation_gives_unit_output_variance():
    torch.manual_seed(1)
    x = torch.randn(4, 64, 32, 32)
    y = modulated_conv2d(x, torch.randn(16, 64, 3, 3), torch.rand(4, 64) + 0.5, demodulate=True)
    assert y.var().item() == pytest.approx(1.0, abs=0.05)
    assert math.isfinite(y.mean().item())
