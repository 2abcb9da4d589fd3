"""Real image files made with Pillow for the tests."""

from __future__ import annotations

import io
import random
import struct

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


XMP_GPS = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="38,42.6N"'
           b' exif:GPSLongitude="9,8.4W"/></rdf:RDF></x:xmpmeta>')
COMMENT = b"taken at home, Rua das Flores 12"
IPTC_CITY = b"Lisbon-Alfama"
DESCRIPTION = b"Sunset from Miradouro da Senhora do Monte"
MAKER_NOTE = b"Apple iOS\x00\x00\x01MM" + b"GPS-IN-MAKERNOTE" * 4


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def jpeg_with_every_metadata_block(*, orientation: int = 6) -> bytes:
    """A JPEG whose location is in EXIF GPS, its description, XMP, IPTC
    (APP13), a maker note and a comment (COM), as phones and photo tools
    write them."""
    image = two_colour_image()
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.ImageDescription] = DESCRIPTION.decode()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.MakerNote] = MAKER_NOTE
    info = exif.get_ifd(ExifTags.IFD.GPSInfo)
    info[ExifTags.GPS.GPSLatitudeRef], info[ExifTags.GPS.GPSLatitude] = "N", (38.0, 42.0, 36.0)
    info[ExifTags.GPS.GPSLongitudeRef], info[ExifTags.GPS.GPSLongitude] = "W", (9.0, 8.0, 24.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    data = out.getvalue()
    iptc = b"\x1c\x02\x5a" + len(IPTC_CITY).to_bytes(2, "big") + IPTC_CITY
    photoshop = b"Photoshop 3.0\x00" + b"8BIM\x04\x04\x00\x00" + len(iptc).to_bytes(4, "big") + iptc
    extra = (_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP_GPS) + _segment(0xED, photoshop)
             + _segment(0xFE, COMMENT))
    return data[:2] + extra + data[2:]


def jpeg_with_comment_xmp_and_maker_note() -> bytes:
    """A phone photo without a location: camera, date, a maker note, XMP and
    a comment, and no EXIF GPS."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = "Apple", "iPhone 12"
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = "2024:07:14 18:30:05"
    details[ExifTags.Base.MakerNote] = b"Apple iOS\x00\x00\x01MM" + bytes(range(64))
    out = io.BytesIO()
    two_colour_image().save(out, "JPEG", exif=exif.tobytes(), quality=95)
    data = out.getvalue()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    return data[:2] + _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp) + _segment(0xFE, b"holiday") + data[2:]


def jpeg_whose_exif_pillow_cannot_write_back() -> bytes:
    """Orientation 6, a date taken and a maker note, with a ResolutionUnit
    stored as text where TIFF says a number: Pillow reads it, and fails to
    write it back."""
    def entry(tag: int, kind: int, count: int, value: bytes) -> bytes:
        return struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\x00")

    exif_ifd_at = 8 + 2 + 3 * 12 + 4
    taken_at = exif_ifd_at + 2 + 2 * 12 + 4
    ifd0 = struct.pack("<H", 3) + entry(0x0112, 3, 1, struct.pack("<H", 6)) + entry(0x0128, 2, 3, b"in\x00") \
        + entry(0x8769, 4, 1, struct.pack("<I", exif_ifd_at)) + struct.pack("<I", 0)
    exif_ifd = struct.pack("<H", 2) + entry(0x9003, 2, 20, struct.pack("<I", taken_at)) \
        + entry(0x927C, 7, 4, b"ABCD") + struct.pack("<I", 0)
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd0 + exif_ifd + b"2021:06:01 12:30:00\x00"
    out = io.BytesIO()
    two_colour_image().save(out, "JPEG", exif=b"Exif\x00\x00" + tiff)
    return out.getvalue()


def progressive_jpeg_with_metadata_between_scans(comment: bytes, xmp: bytes) -> tuple[bytes, bytes]:
    """A progressive JPEG, and the same file with a comment and an XMP
    segment put between its first and second scans."""
    out = io.BytesIO()
    Image.effect_mandelbrot((96, 64), (-2, -1, 1, 1), 50).convert("RGB").save(out, "JPEG", progressive=True)
    clean = out.getvalue()
    first_scan = clean.index(b"\xff\xda")
    second_scan = clean.index(b"\xff\xda", first_scan + 2)  # 0xFF 0xDA cannot occur in scan data
    extra = _segment(0xFE, comment) + _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp)
    return clean, clean[:second_scan] + extra + clean[second_scan:]


def noise_jpeg(seed: int, size: tuple[int, int] = (300, 200)) -> bytes:
    """A JPEG that does not compress (about 55 KB at 300x200): fills a disk quickly."""
    pixels = random.Random(seed).randbytes(size[0] * size[1] * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", size, pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def pixels(data: bytes) -> bytes:
    """The decoded picture: what an original must keep of the file, byte for
    byte in its scan, while its metadata is rewritten."""
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").tobytes()
