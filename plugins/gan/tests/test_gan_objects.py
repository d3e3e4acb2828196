"""segbench_gan.objects: stacking mask tiles and the speck rules, on constructed label images."""

import doctest

import numpy as np
import pytest

from segbench_gan import objects
from segbench_gan.objects import background_noise, drop_faint, drop_small, object_contrast, stack_layers


def test_docstring_examples_run():
    assert doctest.testmod(objects, extraglobs={"np": np}).failed == 0


def test_stacking_keeps_a_one_pixel_gap():
    base = np.zeros((10, 10), int)
    base[2:5, 2:5] = 1
    touching_corner = np.zeros((10, 10), int)
    touching_corner[5:7, 5:7] = 4      # diagonal neighbour of (4, 4): dropped
    one_gap = np.zeros((10, 10), int)
    one_gap[2:5, 6:8] = 2              # column 5 left empty: kept
    out = stack_layers([base, touching_corner, one_gap])
    assert out.max() == 2 and not out[5:7, 5:7].any() and (out[2:5, 6:8] == 2).all()


def test_a_speck_below_min_area_is_removed():
    labels = np.zeros((16, 16), int)
    labels[1:3, 1:3] = 3        # 4 px speck
    labels[6:12, 6:12] = 8      # 36 px nucleus
    out = drop_small(labels, 10)
    assert out.max() == 1 and (out[6:12, 6:12] == 1).all() and not out[1:3, 1:3].any()
    assert drop_small(labels, 0).max() == 2


def test_a_speck_without_signal_is_removed():
    rng = np.random.default_rng(0)
    image = 30 + rng.normal(0, 3, (32, 32))
    labels = np.zeros((32, 32), int)
    labels[4:10, 4:10] = 1      # bright nucleus
    labels[20:23, 20:23] = 2    # a mask speck with nothing under it in the image
    image[4:10, 4:10] += 40
    contrast = object_contrast(image, labels)
    noise = background_noise(image, labels)
    assert 2 < noise < 4  # the robust sigma of N(30, 3)
    assert contrast[1] == pytest.approx(40, abs=3) and abs(contrast[2]) < 3
    out = drop_faint(labels, image, 1.0)
    assert out.max() == 1 and (out[4:10, 4:10] == 1).all()
    assert drop_faint(labels, image, float("-inf")).max() == 2


def test_contrast_is_against_the_local_background():
    image = np.zeros((20, 40))
    image[:, 30:] = 100                  # a bright right quarter
    labels = np.zeros((20, 40), int)
    labels[8:12, 34:38] = 1              # in the bright quarter, no brighter than its surroundings
    labels[8:12, 8:12] = 2               # in the dark half, 50 above its surroundings
    image[8:12, 8:12] = 50
    assert object_contrast(image, labels) == {1: 0.0, 2: 50.0}
    kept = drop_faint(labels, image, 1.0)  # background mostly 0: the noise floor of 1 grey value
    assert kept.max() == 1 and (kept[8:12, 8:12] == 1).all()


def test_noise_floor_and_no_background():
    flat = np.full((8, 8), 7.0)
    assert background_noise(flat, np.zeros((8, 8), int)) == 1.0
    assert background_noise(flat, np.ones((8, 8), int)) == 1.0
    full = np.ones((8, 8), int)
    assert drop_faint(full, flat, 1.0).max() == 1  # no background: contrast against 0
