"""Monitor windowing and overlays (core tier: numpy and Pillow only)."""

from __future__ import annotations

import numpy as np

from iddsanatomy.fluoro import display


def _phantom_sigma(n=128):
    yy, xx = np.mgrid[:n, :n]
    sigma = np.full((n, n), 4.0, dtype=np.float32)  # soft tissue everywhere
    sigma[np.hypot(xx - n / 2, yy - n / 2) < n / 8] += 1.5  # a "bone" disc in the middle
    return sigma


def test_bone_is_dark_on_light_and_invert_flips_it():
    sigma = _phantom_sigma()
    pic = display.window(sigma)
    assert pic.dtype == np.uint8 and pic.shape == sigma.shape
    assert pic[64, 64] < pic[64, 10] - 100
    inv = display.window(sigma, invert=True)
    np.testing.assert_array_equal(inv.astype(int), 255 - pic.astype(int))


def test_fixed_window_maps_low_to_white_and_high_to_black():
    sigma = np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32)
    pic = display.window(
        sigma, display.Window(1.0, 2.0), enhance=0, compress=0, gamma=1.0, blur_px=0
    )
    np.testing.assert_array_equal(pic, [[255, 255], [0, 0]])


def test_round_field_is_black_outside_the_circle():
    pic = display.window(_phantom_sigma(), circle=True)
    assert pic[0, 0] == 0 and pic[127, 127] == 0 and pic[64, 10] > 0


def test_overlay_draws_labels_and_paths_in_colour_and_skips_points_outside():
    pic = display.window(_phantom_sigma())
    out = display.overlay(
        pic,
        {"L3": (20.0, 30.0), "off": (500.0, 30.0)},
        [np.array([[10.0, 100.0], [110.0, 100.0], [np.nan, np.nan]])],
    )
    assert out.shape == (128, 128, 3)
    coloured = (out[..., 0].astype(int) - out[..., 2].astype(int)) != 0
    assert coloured[95:106].any()  # the path
    assert coloured[22:40, 18:60].any()  # the label
    assert not coloured[:, 120:].any()  # nothing drawn for the label outside the image


def test_mottle_is_grainier_through_a_thicker_patient():
    thin = np.full((128, 128), 4.0, dtype=np.float32)
    thick = thin + 2.0
    win = display.Window(3.0, 8.0)
    kw = {"enhance": 0, "compress": 0, "gamma": 1.0, "blur_px": 0, "photons": 1e5}
    a = display.window(thin, win, **kw).astype(float)
    b = display.window(thick, win, **kw).astype(float)
    # std of log counts ~ 1 / sqrt(N0 exp(-Σ)): e^(2/2) = 2.7 times more through 2 more
    assert 2.0 < b.std() / a.std() < 3.5
    np.testing.assert_array_equal(display.window(thin, win, **kw), a.astype(np.uint8))  # seeded
