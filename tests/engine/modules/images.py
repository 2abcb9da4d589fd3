"""Real image files made with Pillow for the tests."""

from __future__ import annotations

import io

from PIL import ExifTags, Image


def two_colour_image(width: int = 80, height: int = 40) -> Image.Image:
    """Left half red, right half blue: orientation shows in the result."""
    image = Image.new("RGB", (width, height), (220, 20, 20))
    image.paste((20, 20, 220), (width // 2, 0, width, height))
    return image


def image_bytes(fmt: str, *, orientation: int | None = None, gps: bool = False, taken: str | None = None,
                camera: tuple[str, str] | None = None, size: tuple[int, int] = (80, 40), seed: int = 0) -> bytes:
    image = two_colour_image(*size)
    image.putpixel((0, 0), (seed % 256, 0, 0))  # distinct files for distinct seeds
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if camera is not None:
        exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = camera
    if taken is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    if gps:
        info = exif.get_ifd(ExifTags.IFD.GPSInfo)
        info[ExifTags.GPS.GPSLatitudeRef], info[ExifTags.GPS.GPSLatitude] = "N", (38.0, 42.0, 36.0)
        info[ExifTags.GPS.GPSLongitudeRef], info[ExifTags.GPS.GPSLongitude] = "W", (9.0, 8.0, 24.0)
    out = io.BytesIO()
    if fmt == "GIF":
        image.convert("P").save(out, "GIF")
    else:
        image.save(out, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    return out.getvalue()
