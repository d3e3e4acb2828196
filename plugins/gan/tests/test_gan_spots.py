"""Spots from Gaussian point clouds: positions, covariance, rendering, compositing."""

import numpy as np
import pytest

from segbench.errors import SegbenchError
from segbench_gan.spots import (
    SpotParams,
    add_spots,
    combine,
    covariance_matrix,
    points_mask,
    render_spots,
    spot_positions,
)


def two_cells():
    labels = np.zeros((64, 64), np.int32)
    labels[5:25, 5:25] = 1
    labels[35:60, 30:62] = 2
    return labels


def test_clouds_inside_cells_stay_in_their_cell():
    labels = two_cells()
    positions, owners = spot_positions(labels, np.random.default_rng(0), n_clouds=6, points_per_cloud=15,
                                       covariance=9.0, inside_cells=True)
    assert positions.shape == (90, 2)
    pixels = np.rint(positions).astype(int)
    assert np.array_equal(labels[tuple(pixels.T)], owners)
    assert (owners > 0).all()
    # each cloud of 15 spots lies in one cell
    assert all(len(set(owners[k : k + 15])) == 1 for k in range(0, 90, 15))


def test_clouds_anywhere_reach_the_background_and_stay_in_the_image():
    labels = two_cells()
    positions, owners = spot_positions(labels, np.random.default_rng(1), 20, 10, 25.0, inside_cells=False)
    assert len(positions) == 200
    assert (owners == 0).any() and (owners > 0).any()
    assert (np.rint(positions) >= 0).all() and (np.rint(positions) <= 63).all()


def test_no_cells_means_no_spots_inside_cells():
    positions, owners = spot_positions(np.zeros((16, 16), int), np.random.default_rng(0), 3, 5, 1.0)
    assert positions.shape == (0, 2) and owners.shape == (0,)


def test_positions_are_seeded():
    labels = two_cells()
    a = spot_positions(labels, np.random.default_rng(7), 3, 10, 4.0)[0]
    b = spot_positions(labels, np.random.default_rng(7), 3, 10, 4.0)[0]
    assert np.array_equal(a, b)


def test_covariance_stretches_clouds_along_its_major_axis():
    labels = np.ones((200, 200), np.int32)  # one big cell: nothing is redrawn
    cov = np.array([[40.0, 30.0], [30.0, 40.0]])  # major axis along y = x (eigenvalues 70 and 10)
    positions, _ = spot_positions(labels, np.random.default_rng(0), 1, 4000, cov)
    empirical = np.cov(positions.T)
    np.testing.assert_allclose(empirical, cov, rtol=0.1)
    values, vectors = np.linalg.eigh(empirical)
    major = vectors[:, np.argmax(values)]
    assert abs(abs(major @ np.array([1, 1]) / np.sqrt(2)) - 1) < 0.01
    round_positions, _ = spot_positions(labels, np.random.default_rng(0), 1, 4000, 16.0)
    np.testing.assert_allclose(np.cov(round_positions.T), 16 * np.eye(2), atol=1.5)


def test_covariance_validation():
    assert covariance_matrix([[2, 0], [0, 3]]).tolist() == [[2.0, 0.0], [0.0, 3.0]]
    with pytest.raises(SegbenchError, match="covariance: the 2x2 matrix must be symmetric"):
        covariance_matrix([[2, 1], [0, 3]])
    with pytest.raises(SegbenchError, match="covariance: the 2x2 matrix must be positive definite"):
        covariance_matrix([[1, 2], [2, 1]])
    with pytest.raises(SegbenchError, match="covariance: a variance must be > 0"):
        covariance_matrix(0)
    with pytest.raises(SegbenchError, match="expected a number or a 2x2 matrix"):
        covariance_matrix([1, 2, 3])


def test_rendered_spots_are_unit_peak_gaussians_at_subpixel_positions():
    image = render_spots(np.array([[10.0, 10.0], [10.0, 30.5]]), (21, 41), sigma=1.5)
    assert image[10, 10] == pytest.approx(1.0)
    assert image[10, 11] == pytest.approx(np.exp(-1 / (2 * 1.5**2)), rel=1e-6)
    assert image[10, 30] == pytest.approx(image[10, 31]) == pytest.approx(np.exp(-0.25 / 4.5), rel=1e-6)
    assert image.sum() == pytest.approx(2 * 2 * np.pi * 1.5**2, rel=1e-3)  # each spot integrates to 2 pi sigma^2
    assert image[0, 0] == 0.0
    counted = points_mask(np.array([[10.2, 9.8], [10.0, 30.4], [-5, 3]]), (21, 41))
    assert counted.sum() == 2 and counted[10, 10] and counted[10, 30]


def test_combine_adds_or_maximises_and_clips_to_the_dtype():
    image = np.full((5, 5), 100, np.uint16)
    spots = np.zeros((5, 5), np.float32)
    spots[2, 2] = 1.0
    added = combine(image, spots, 65500)
    assert added.dtype == np.uint16 and added[2, 2] == 65535 and added[0, 0] == 100
    maxed = combine(image, spots * 0.5, 40, mode="max")
    assert maxed[2, 2] == 120 and maxed[0, 0] == 100
    with pytest.raises(ValueError, match="mode: must be 'add' or 'max'"):
        combine(image, spots, 1, mode="over")


def test_add_spots_puts_bright_spots_inside_cells_only():
    labels = two_cells()
    image = np.full(labels.shape, 200, np.uint16)
    params = SpotParams(n_clouds=4, points_per_cloud=5, covariance=4.0, sigma=0.8, amplitude=500)
    out = add_spots(image, labels, np.random.default_rng(0), params)
    positions, owners = spot_positions(labels, np.random.default_rng(0), 4, 5, 4.0)
    pixels = tuple(np.rint(positions).astype(int).T)
    assert (owners > 0).all() and (out[pixels] >= 200 + 500 * np.exp(-0.5 / (2 * 0.8**2)) - 0.5).all()
    # light spreads at most 4 sigma (the PSF's support) beyond the cells
    from scipy.ndimage import binary_dilation

    near_cells = binary_dilation(labels > 0, iterations=int(np.ceil(4 * 0.8)) + 1)
    assert (out[~near_cells] == 200).all()
    assert add_spots(image, labels, np.random.default_rng(0), SpotParams()) is image
    with pytest.raises(ValueError, match="sigma: must be > 0 pixels"):
        SpotParams(sigma=0)
