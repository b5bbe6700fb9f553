"""Fluoroscopy windowing and overlays: from a DRR to the picture on the C-arm monitor.

A C-arm monitor shows the detector signal log-compressed, bone dark on a light background, with
edge enhancement (an unsharp mask) that makes cortical margins crisp. :func:`window` does that;
:func:`overlay` draws labels and a projected needle path with Pillow. No Qt here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: Photons per pixel (no patient) that give fluoroscopy-like mottle at 512²: a teaching value.
TEACHING_PHOTONS = 4.0e5


@dataclass(frozen=True)
class Window:
    """Display window on the line integral Σ (dimensionless): Σ ≤ low is white, ≥ high black."""

    low: float
    high: float


def auto_window(sigma: np.ndarray, low_pct: float = 2.0, high_pct: float = 99.5) -> Window:
    """A window from percentiles of Σ in the central 60 % of the field, as a C-arm's automatic
    brightness control measures in the middle of the image (air at the edges is ignored)."""
    n0, n1 = sigma.shape
    core = sigma[int(0.2 * n0) : int(0.8 * n0), int(0.2 * n1) : int(0.8 * n1)]
    lo, hi = np.percentile(core, [low_pct, high_pct])
    if not hi > lo:
        hi = lo + 1.0
    return Window(float(lo), float(hi))


def _blur(a: np.ndarray, sigma_px: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(a, sigma_px, mode="nearest")


def window(
    sigma: np.ndarray,
    win: Window | None = None,
    invert: bool = False,
    enhance: float = 0.8,
    enhance_px: float | None = None,
    compress: float = 0.8,
    compress_px: float | None = None,
    gamma: float = 1.5,
    circle: bool = False,
    blur_px: float = 0.6,
    photons: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """The monitor picture ((N, N) uint8) of a line-integral image Σ.

    Parameters
    ----------
    sigma : (N, N) float
        ``−log(I/I0)``, as from :func:`iddsanatomy.fluoro.drr.line_integral`.
    win : Window, optional
        Default: :func:`auto_window` (after enhancement).
    invert : bool
        False: bone dark on light (as on the monitor); True: bone white ("negative").
    enhance : float
        Unsharp-mask gain on Σ; 0 switches it off.
    enhance_px : float, optional
        Blur radius of the unsharp mask in pixels (default N / 128, at least 1.5).
    compress : float
        Dynamic-range compression: this share of the very smooth part of Σ (body thickness, not
        bone; blur radius ``compress_px``) is removed, as fluoroscopy image processing does, so
        that a lateral through 30 cm of trunk and an AP both fill the grey scale.
    compress_px : float, optional
        Blur radius of that smooth part in pixels (default N / 6).
    gamma : float
        Display gamma applied to the windowed value.
    circle : bool
        Black outside the inscribed circle, as an image intensifier's round field looks.
    blur_px : float
        Gaussian blur (pixels) standing for the focal spot and the detector's resolution; it also
        hides the staircase of edges sampled at pixel centres. 0 switches it off.
    photons : float, optional
        Quantum mottle: X-ray photons per pixel reaching the detector without a patient. The
        detector then counts ``photons · exp(−Σ)`` on average; the log of a Poisson count has a
        standard deviation of about ``1 / sqrt(count)``, so a thicker (obese) patient gives a
        grainier image, as on a real C-arm. ``None``: no noise. :data:`TEACHING_PHOTONS` is a
        value that looks like a low-dose pulsed fluoroscopy frame (teaching approximation).
    seed : int
        Seed of the noise, so that a picture can be reproduced.
    """
    s = np.asarray(sigma, dtype=np.float32)
    if photons is not None and photons > 0:
        rng = np.random.default_rng(seed)
        expected = photons * np.exp(-s.astype(np.float64))
        counts = np.maximum(rng.poisson(expected), 0.5)  # 0.5: a floor for empty pixels
        s = (np.log(photons) - np.log(counts)).astype(np.float32)
    if blur_px > 0:
        s = _blur(s, blur_px)
    if compress > 0:
        s = s - compress * _blur(s, compress_px if compress_px is not None else s.shape[0] / 6)
    if enhance > 0:
        r = enhance_px if enhance_px is not None else max(1.5, s.shape[0] / 128)
        s = s + enhance * (s - _blur(s, r))
    w = win if win is not None else auto_window(s)
    g = np.clip((w.high - s) / (w.high - w.low), 0.0, 1.0)  # 1 = white (little attenuation)
    if gamma != 1.0:
        g = g**gamma
    if invert:
        g = 1.0 - g
    out = (g * 255.0 + 0.5).astype(np.uint8)
    if circle:
        out[~circle_mask(out.shape[0])] = 0
    return out


def circle_mask(n: int) -> np.ndarray:
    """(n, n) bool: True inside the circle inscribed in the image."""
    c = (n - 1) / 2
    yy, xx = np.mgrid[:n, :n]
    return np.hypot(xx - c, yy - c) <= n / 2


def overlay(
    picture: np.ndarray,
    labels: Mapping[str, tuple[float, float]] | None = None,
    paths: Sequence[np.ndarray] = (),
    colour=(255, 200, 0),
    path_colour=(0, 200, 255),
    scale: float = 1.0,
) -> np.ndarray:
    """An RGB copy ((N, N, 3) uint8) of ``picture`` with labels and polylines drawn on it.

    ``labels`` maps text to pixel (col, row) (the left end of the text); ``paths`` are (k, 2)
    pixel polylines (a projected needle). Points outside the image are skipped.
    """
    from PIL import Image, ImageDraw, ImageFont

    img = Image.fromarray(picture).convert("RGB")
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.load_default(size=max(10, round(15 * scale)))
    except TypeError:  # Pillow < 10.1 has one fixed-size default font
        font = ImageFont.load_default()
    n = picture.shape[0]
    for path in paths:
        p = np.asarray(path, dtype=float)
        p = p[np.all(np.isfinite(p), axis=1)]
        if len(p) >= 2:
            draw.line([tuple(q) for q in p], fill=path_colour, width=max(1, round(2 * scale)))
    for text, (c, r) in (labels or {}).items():
        if not (np.isfinite(c) and np.isfinite(r)) or not (0 <= c < n and 0 <= r < n):
            continue
        draw.text(
            (c, r), text, fill=colour, font=font, anchor="lm", stroke_width=2, stroke_fill=(0, 0, 0)
        )
    return np.asarray(img)


def save_png(picture: np.ndarray, path) -> None:
    """Write a uint8 grey or RGB picture to ``path`` as PNG."""
    from PIL import Image

    Image.fromarray(picture).save(path)
