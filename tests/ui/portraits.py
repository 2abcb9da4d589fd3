"""Photos as a phone stores them: the sensor's landscape pixels and an EXIF
orientation tag saying how to turn them. Upright, each is a portrait with a
red band across its top and blue below, so where the band lands tells
whether a picture was shown upright."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import ExifTags, Image
from PySide6.QtGui import QColor, QImage

ORIENTATIONS = (1, 3, 6, 8)
WIDTH, HEIGHT = 300, 450  # upright
RED, BLUE = (220, 20, 20), (20, 20, 220)
# How the camera stored the upright picture for each tag (the inverse of
# what a viewer must do: 3 turns half round, 6 a quarter clockwise, 8 anticlockwise).
_STORED = {1: None, 3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def portrait_jpeg(orientation: int, seed: int = 0) -> bytes:
    upright = Image.new("RGB", (WIDTH, HEIGHT), BLUE)
    upright.paste(RED, (0, 0, WIDTH, HEIGHT // 4))
    upright.paste((seed % 256, 200, 0), (0, HEIGHT - 8, 8, HEIGHT))  # distinct files for distinct seeds
    transpose = _STORED[orientation]
    stored = upright if transpose is None else upright.transpose(transpose)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    out = io.BytesIO()
    stored.save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def portrait_files(folder: Path) -> dict[int, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for seed, orientation in enumerate(ORIENTATIONS):
        path = folder / f"phone-{orientation}.jpg"
        path.write_bytes(portrait_jpeg(orientation, seed * 60))
        paths[orientation] = path
    return paths


def _is(colour: QColor, rgb: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 60 for a, b in zip((colour.red(), colour.green(), colour.blue()), rgb, strict=True))


def upright_problem(image: QImage) -> str | None:
    """Why `image` is not the upright portrait (None when it is): a
    portrait's shape, red across the top, blue across the bottom."""
    if image.isNull():
        return "no picture"
    width, height = image.width(), image.height()
    if not height > width:
        return f"{width}x{height} is not a portrait"
    top = [image.pixelColor(x, height // 10) for x in (width // 4, width // 2, 3 * width // 4)]
    bottom = [image.pixelColor(x, height * 8 // 10) for x in (width // 4, width // 2, 3 * width // 4)]
    if not all(_is(c, RED) for c in top) or not all(_is(c, BLUE) for c in bottom):
        return "the red band is not across the top"
    return None
