"""Pictures from peers, decoded safely off the GUI thread.

A thumbnail in an event is bytes a peer chose: it may claim any size or
format. The engine makes JPEG thumbnails of at most 256 px, so anything else
is refused before decoding rather than decoded at a size that freezes the
app or eats its memory. Pillow, not QImage, decodes: Pillow lets go of the
interpreter lock while it works; PySide's QImage calls hold it and stall the
GUI thread."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from PySide6.QtGui import QImage

MAX_THUMBNAIL_EDGE = 2048  # generous: the engine's own are 256


def open_thumbnail(data: bytes, edge: int) -> Image.Image | None:
    """An RGB picture decoded near `edge` pixels, or None for anything that
    is not a plausible JPEG thumbnail."""
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as picture:
            if max(picture.size) > MAX_THUMBNAIL_EDGE or min(picture.size) < 1:
                return None
            picture.draft("RGB", (edge, edge))  # decode at 1/2, 1/4, 1/8 when that is enough
            return picture.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def to_qimage(picture: Image.Image) -> QImage:
    """Premultiplied RGBA, as Qt paints fastest; a copy that owns its pixels."""
    pixels = picture.convert("RGBa").tobytes()
    return QImage(pixels, picture.width, picture.height, picture.width * 4,
                  QImage.Format.Format_RGBA8888_Premultiplied).copy()


def fitted_thumbnail(data: bytes, edge: int) -> QImage:
    """The picture scaled to fit an `edge` square (chat attachments); a null
    image when it cannot be shown."""
    picture = open_thumbnail(data, edge)
    if picture is None:
        return QImage()
    picture.thumbnail((edge, edge), Image.Resampling.BILINEAR)
    return to_qimage(picture)


class SquareThumbnails:
    """JPEG bytes to the `edge` square a grid cell shows, cropped from the
    middle and rounded: painting it is then a copy, never a scale, and it
    weighs edge² x 4 bytes (100 KiB at 160 px) whatever the thumbnail's size."""

    def __init__(self, edge: int, corner: float) -> None:
        self.edge = edge
        self._mask = Image.new("L", (edge, edge), 0)
        radius = max(1, round(edge * corner))
        ImageDraw.Draw(self._mask).rounded_rectangle((0, 0, edge - 1, edge - 1), radius, fill=255)

    def __call__(self, thumbnails: list[bytes]) -> list[QImage]:
        return [self.decode(data) for data in thumbnails]

    def decode(self, data: bytes) -> QImage:
        rgb = open_thumbnail(data, self.edge)
        if rgb is None:
            return QImage()  # the cell keeps its placeholder
        side = min(rgb.size)
        left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
        square = rgb.resize((self.edge, self.edge), Image.Resampling.BILINEAR,
                            box=(left, top, left + side, top + side))
        square.putalpha(self._mask)
        return to_qimage(square)


