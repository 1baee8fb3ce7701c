"""Reading what a browser drew: screenshots as NumPy arrays, and the measures the
pixel tests assert on (saturation, greyness, white columns, colour-bar positions).

Every browser test that checks a view should check it here, on pixels, not on the
figure JSON: Plotly can hold the right attributes and still paint something else.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image


def screenshot(driver: Any, element: Any | None = None) -> np.ndarray:
    """RGB screenshot (height × width × 3, uint8) of the page or of one element."""
    png = element.screenshot_as_png if element is not None else driver.get_screenshot_as_png()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def save(image: np.ndarray, path) -> None:
    """Write an RGB array as PNG (to look at a failing case)."""
    Image.fromarray(image).save(path)


def saturation(image: np.ndarray) -> np.ndarray:
    """HSV saturation in [0, 1] per pixel: 0 for grey, white and black."""
    rgb = image.astype(np.float32) / 255.0
    high = rgb.max(axis=-1)
    low = rgb.min(axis=-1)
    return np.where(high > 0, (high - low) / np.maximum(high, 1e-6), 0.0)


def lightness(image: np.ndarray) -> np.ndarray:
    """Mean of R, G, B in [0, 255] per pixel."""
    return image.astype(np.float32).mean(axis=-1)


def is_near_white(image: np.ndarray, tolerance: float = 12.0) -> np.ndarray:
    """True where every channel is within `tolerance` of 255."""
    return (255.0 - image.astype(np.float32)).max(axis=-1) <= tolerance


def coloured_fraction(image: np.ndarray, min_saturation: float = 0.25) -> float:
    """Fraction of pixels whose saturation is at least `min_saturation`."""
    return float(np.mean(saturation(image) >= min_saturation))


def crop(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Pixels inside (left, top, right, bottom), in CSS pixels of the page."""
    left, top, right, bottom = (int(round(v)) for v in box)
    return image[max(top, 0):bottom, max(left, 0):right]


def element_box(driver: Any, css_selector: str) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the first element matching `css_selector`, page pixels."""
    rect = driver.execute_script(
        "var r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return [r.left, r.top, r.right, r.bottom];", css_selector)
    return tuple(rect)


def nearest_scale_position(pixels: np.ndarray, scale_rgb: np.ndarray) -> np.ndarray:
    """For each RGB pixel, its position in [0, 1] on a sampled colour scale.

    `scale_rgb` is (n, 3): the colour bar sampled from bottom (0) to top (1). Used to
    say which value a drawn colour stands for, e.g. that 0 % is the scale's centre.
    """
    flat = pixels.reshape(-1, 3).astype(np.float32)
    distance = ((flat[:, None, :] - scale_rgb[None, :, :].astype(np.float32)) ** 2).sum(axis=-1)
    return (distance.argmin(axis=1) / max(len(scale_rgb) - 1, 1)).reshape(pixels.shape[:-1])
