"""Real screenshots of the app for docs/screenshots/ and the README.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots.py docs/screenshots

Three real profiles (Ana, Ben, Carla) run in a temporary folder as the app
runs them: each on its engine thread with the network on 127.0.0.1 (no LAN
discovery). Ana makes albums of generated photos and chats; Ben and Carla
join by invite links over the network; everyone writes. Then Ana's real
main window (and its dialogs) is driven as the tests drive it and grabbed
with QWidget.grab(). Nothing is downloaded; the photos are drawn with Pillow.
The whole run is bounded (DEADLINE_SECONDS); the engines always stop."""

from __future__ import annotations

import asyncio
import io
import itertools
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import qasync
from PIL import ExifTags, Image, ImageDraw, ImageFilter
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from threads_desktop.app import background_services
from threads_desktop.cli.commands import forwarding_handler
from threads_desktop.engine.acl.crdt import Role
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.collector import MainThreadCollector
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.device_model import DeviceRole
from threads_desktop.ui.models.message_list_model import MessageRole
from threads_desktop.ui.models.photo_grid_model import PhotoRole
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.main_window import MainWindow

T = TypeVar("T")
RGB = tuple[int, int, int]

DEADLINE_SECONDS = 180.0
WINDOW_SIZE = (1280, 800)
PHOTO_SIZE = (1600, 1200)
CAMERA = ("FUJIFILM", "X-T30")
PHONE = ("Google", "Pixel 8")

# --- sample photos: simple landscapes drawn with Pillow ---------------------------------


@dataclass(frozen=True)
class Ridge:
    """A band of hills: its mean height (fraction of the picture from the
    top), how much it rises and falls, and its colour."""

    level: float
    swing: float
    colour: RGB
    trees: bool = False


@dataclass(frozen=True)
class Scene:
    file_name: str
    taken: str  # EXIF DateTimeOriginal, "YYYY:MM:DD HH:MM:SS"
    sky: list[tuple[float, RGB]]
    horizon: float = 0.62
    sea: list[tuple[float, RGB]] | None = None  # gradient below the horizon, if water
    sun: tuple[float, float, float, RGB] | None = None  # x, y (fractions), radius (px), colour
    ridges: list[Ridge] = field(default_factory=list)
    clouds: int = 0
    stars: int = 0
    city: bool = False
    lavender: bool = False
    seed: int = 0
    portrait: bool = False  # held upright: a phone stores it sideways with EXIF orientation 6


def _gradient(size: tuple[int, int], stops: list[tuple[float, RGB]]) -> Image.Image:
    """A vertical gradient through colour stops at fractions 0..1 of the height."""
    steps = 512
    column = Image.new("RGB", (1, steps))
    for i in range(steps):
        t = i / (steps - 1)
        for (t0, c0), (t1, c1) in itertools.pairwise(stops):
            if t0 <= t <= t1:
                k = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
                column.putpixel((0, i), tuple(round(a + (b - a) * k) for a, b in zip(c0, c1, strict=True)))
                break
        else:
            column.putpixel((0, i), stops[-1][1] if t > stops[-1][0] else stops[0][1])
    return column.resize(size, Image.Resampling.BILINEAR)


def _glow(image: Image.Image, centre: tuple[float, float], radius: float, colour: RGB) -> None:
    """A sun with a soft halo, blended into `image`."""
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    x, y = centre
    for scale, alpha in ((4.0, 50), (2.2, 90)):
        r = radius * scale
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(*colour, alpha))
    layer = layer.filter(ImageFilter.GaussianBlur(radius * 1.2))
    ImageDraw.Draw(layer).ellipse((x - radius, y - radius, x + radius, y + radius), fill=(*colour, 255))
    image.alpha_composite(layer)


def _ridge_points(rng: random.Random, width: int, height: int, ridge: Ridge) -> list[tuple[float, float]]:
    waves = [(rng.uniform(0.5, 1.0) / k, rng.uniform(1.0, 2.2) * k, rng.uniform(0, math.tau)) for k in (1, 2, 4, 9)]
    points = []
    for x in range(0, width + 20, 20):
        u = x / width * math.tau
        y = ridge.level + ridge.swing * sum(a * math.sin(f * u + p) for a, f, p in waves) / 1.9
        points.append((float(x), y * height))
    return points


def _draw_ridge(image: Image.Image, rng: random.Random, ridge: Ridge) -> None:
    width, height = image.size
    points = _ridge_points(rng, width, height, ridge)
    draw = ImageDraw.Draw(image)
    draw.polygon([*points, (width, height), (0, height)], fill=ridge.colour)
    if ridge.trees:  # small pines along the crest
        darker = tuple(max(0, c - 25) for c in ridge.colour)
        for x, y in points[::2]:
            h = rng.uniform(30, 70)
            draw.polygon([(x - h / 4, y + 8), (x, y - h), (x + h / 4, y + 8)], fill=darker)


def _draw_clouds(image: Image.Image, rng: random.Random, count: int, top: float) -> None:
    width, height = image.size
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for _ in range(count):
        cx, cy = rng.uniform(0, width), rng.uniform(0.05, top) * height
        for _ in range(6):
            w, h = rng.uniform(90, 220), rng.uniform(30, 60)
            dx, dy = rng.uniform(-150, 150), rng.uniform(-20, 20)
            draw.ellipse((cx + dx - w, cy + dy - h, cx + dx + w, cy + dy + h), fill=(255, 255, 255, 150))
    image.alpha_composite(layer.filter(ImageFilter.GaussianBlur(18)))


def _draw_city(image: Image.Image, rng: random.Random, base: float) -> None:
    """Hillside houses at dusk with lit windows (Lisbon's Alfama, roughly)."""
    width, height = image.size
    draw = ImageDraw.Draw(image)
    x = -20.0
    while x < width:
        w = rng.uniform(70, 150)
        top = base * height - rng.uniform(20, 160) - 160 * math.sin(x / width * math.pi)
        shade = rng.randint(35, 60)
        draw.rectangle((x, top, x + w, height), fill=(shade, shade - 8, shade + 20))
        draw.polygon([(x - 6, top), (x + w / 2, top - w * 0.3), (x + w + 6, top)], fill=(120, 52, 40))
        for wy in range(int(top + 20), height, 38):
            for wx in range(int(x + 12), int(x + w - 18), 30):
                if rng.random() < 0.45:
                    draw.rectangle((wx, wy, wx + 12, wy + 18), fill=(255, rng.randint(190, 225), 120))
        x += w + rng.uniform(2, 10)


def _draw_lavender(image: Image.Image, rng: random.Random, horizon: float) -> None:
    """Rows of lavender running to the horizon."""
    width, height = image.size
    draw = ImageDraw.Draw(image)
    top = horizon * height
    draw.rectangle((0, top, width, height), fill=(88, 110, 60))
    vanish = width * 0.55
    for k in range(-14, 15):
        bottom_x = vanish + k * 150
        for t in range(0, 100):
            f0, f1 = (t / 100) ** 2, ((t + 1) / 100) ** 2
            y0, y1 = top + (height - top) * f0, top + (height - top) * f1
            x0 = vanish + (bottom_x - vanish) * f0
            x1 = vanish + (bottom_x - vanish) * f1
            half = 2 + 50 * f1
            shade = rng.randint(-12, 12)
            draw.polygon([(x0 - half * 0.9, y0), (x0 + half * 0.9, y0), (x1 + half, y1), (x1 - half, y1)],
                         fill=(128 + shade, 92 + shade, 176 + shade))


def render(scene: Scene, size: tuple[int, int] = PHOTO_SIZE) -> Image.Image:
    rng = random.Random(scene.seed)
    width, height = size
    image = _gradient(size, scene.sky).convert("RGBA")
    for _ in range(scene.stars):
        x, y, r = rng.uniform(0, width), rng.uniform(0, scene.horizon * height), rng.choice((1, 1, 1.5, 2))
        ImageDraw.Draw(image).ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 240, rng.randint(140, 255)))
    if scene.sun is not None:
        sx, sy, radius, colour = scene.sun
        _glow(image, (sx * width, sy * height), radius, colour)
    if scene.clouds:
        _draw_clouds(image, rng, scene.clouds, scene.horizon * 0.6)
    image = image.convert("RGB")
    for ridge in scene.ridges:  # far hills stand behind the water
        if ridge.level < scene.horizon:
            _draw_ridge(image, rng, ridge)
    image = image.convert("RGBA")
    if scene.sea is not None:
        horizon = round(scene.horizon * height)
        image.paste(_gradient((width, height - horizon), scene.sea).convert("RGBA"), (0, horizon))
        if scene.sun is not None and scene.sun[1] > scene.horizon - 0.2:  # a low sun's path on the water
            sx, _, radius, colour = scene.sun
            draw = ImageDraw.Draw(image)
            for y in range(horizon + 4, height, 9):
                spread = radius * (0.6 + 2.2 * (y - horizon) / (height - horizon)) * rng.uniform(0.4, 1.0)
                x = sx * width + rng.uniform(-12, 12)
                draw.line((x - spread, y, x + spread, y), fill=(*colour, 255), width=3)
    image = image.convert("RGB")
    for ridge in scene.ridges:  # near ones in front of it
        if ridge.level >= scene.horizon:
            _draw_ridge(image, rng, ridge)
    if scene.city:
        _draw_city(image, rng, scene.horizon)
    if scene.lavender:
        _draw_lavender(image, rng, scene.horizon)
    return image.filter(ImageFilter.GaussianBlur(0.8))


def jpeg(scene: Scene) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = scene.taken
    if scene.portrait:  # the sensor's landscape pixels, and a tag saying "turn a quarter clockwise"
        exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = PHONE
        exif[ExifTags.Base.Orientation] = 6
        picture = render(scene, (PHOTO_SIZE[1], PHOTO_SIZE[0])).transpose(Image.Transpose.ROTATE_90)
    else:
        exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = CAMERA
        picture = render(scene)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=88, exif=exif.tobytes())
    return out.getvalue()


SUNSET_SKY = [(0.0, (46, 32, 92)), (0.35, (160, 64, 110)), (0.55, (246, 132, 72)), (0.62, (255, 204, 120))]
SUNSET_SEA = [(0.0, (196, 110, 92)), (0.3, (92, 60, 100)), (1.0, (26, 24, 60))]
NOON_SKY = [(0.0, (40, 120, 210)), (0.6, (150, 205, 240))]
NOON_SEA = [(0.0, (30, 150, 170)), (0.45, (60, 190, 190)), (0.55, (232, 214, 170)), (1.0, (214, 190, 140))]
DAWN_SKY = [(0.0, (120, 150, 205)), (0.45, (236, 176, 190)), (0.62, (255, 222, 190))]
NIGHT_SKY = [(0.0, (6, 10, 34)), (0.7, (34, 46, 96))]

LISBON = [
    Scene("Cascais sunset.jpg", "2024:07:12 20:41:00", SUNSET_SKY, sea=SUNSET_SEA,
          sun=(0.62, 0.585, 70, (255, 226, 150)), seed=1),
    Scene("Praia da Ursa.jpg", "2024:07:13 13:05:00", NOON_SKY, horizon=0.55, sea=NOON_SEA,
          sun=(0.2, 0.12, 45, (255, 250, 230)), clouds=5,
          ridges=[Ridge(0.53, 0.03, (96, 120, 110))], seed=2),
    Scene("Alfama at dusk.jpg", "2024:07:12 21:10:00",
          [(0.0, (30, 40, 96)), (0.5, (140, 90, 150)), (0.8, (250, 160, 110))], horizon=0.72, city=True, seed=3),
    Scene("Sintra hills.jpg", "2024:07:14 10:20:00", [(0.0, (110, 170, 220)), (0.6, (210, 230, 235))],
          clouds=4, ridges=[Ridge(0.45, 0.08, (150, 180, 170)), Ridge(0.58, 0.10, (84, 136, 96), True),
                            Ridge(0.74, 0.08, (42, 96, 60), True)], seed=4),
    Scene("Tagus at dawn.jpg", "2024:07:15 06:45:00", DAWN_SKY, sea=[(0.0, (240, 200, 200)), (1.0, (90, 110, 160))],
          sun=(0.3, 0.6, 40, (255, 236, 210)), ridges=[Ridge(0.6, 0.015, (120, 110, 150))], seed=5),
    Scene("Cabo da Roca.jpg", "2024:07:14 20:30:00",
          [(0.0, (60, 70, 140)), (0.5, (230, 120, 120)), (0.6, (255, 190, 140))], horizon=0.6,
          sea=[(0.0, (200, 120, 130)), (1.0, (40, 40, 90))], sun=(0.78, 0.57, 50, (255, 220, 170)),
          ridges=[Ridge(0.72, 0.16, (60, 44, 56))], seed=6),
    Scene("Night over the river.jpg", "2024:07:13 23:10:00", NIGHT_SKY, horizon=0.66,
          sea=[(0.0, (30, 40, 80)), (1.0, (8, 10, 26))], sun=(0.75, 0.2, 38, (246, 242, 220)), stars=260,
          ridges=[Ridge(0.64, 0.02, (14, 16, 30))], seed=7),
    Scene("Lavender at Sintra.jpg", "2024:07:16 18:15:00", [(0.0, (90, 140, 210)), (0.5, (250, 210, 170))],
          horizon=0.5, sun=(0.55, 0.44, 45, (255, 236, 190)), lavender=True,
          ridges=[Ridge(0.5, 0.02, (120, 130, 160))], seed=8),
    Scene("Evening at Belém.jpg", "2024:07:16 21:02:00",
          [(0.0, (40, 60, 120)), (0.5, (120, 110, 170)), (0.65, (250, 170, 140))], horizon=0.66,
          sea=[(0.0, (170, 120, 150)), (1.0, (30, 36, 80))], sun=(0.4, 0.65, 55, (255, 200, 150)), seed=9),
    Scene("Comporta dunes.jpg", "2024:07:18 17:40:00", [(0.0, (120, 170, 220)), (0.55, (250, 224, 190))],
          sun=(0.25, 0.3, 50, (255, 246, 220)), ridges=[Ridge(0.55, 0.05, (236, 190, 130)),
                                                         Ridge(0.68, 0.07, (218, 160, 100)),
                                                         Ridge(0.84, 0.06, (190, 128, 76))], seed=15),
    Scene("Arrábida coast.jpg", "2024:07:18 11:25:00", NOON_SKY, horizon=0.5,
          sea=[(0.0, (20, 110, 170)), (1.0, (40, 180, 180))], clouds=3,
          ridges=[Ridge(0.78, 0.2, (70, 120, 70), True)], seed=16),
    Scene("Moonrise over Almada.jpg", "2024:07:17 22:05:00",
          [(0.0, (20, 24, 70)), (0.6, (110, 80, 140)), (0.72, (220, 150, 140))], horizon=0.72, stars=90,
          sun=(0.7, 0.45, 34, (250, 240, 220)), ridges=[Ridge(0.7, 0.05, (40, 36, 70)),
                                                         Ridge(0.82, 0.05, (22, 20, 40))], seed=17),
    Scene("Miradouro da Graça.jpg", "2024:07:17 19:50:00",
          [(0.0, (80, 130, 200)), (0.55, (250, 190, 140)), (0.8, (255, 220, 170))], horizon=0.78, city=True,
          seed=18),
    Scene("Morning swim.jpg", "2024:07:19 08:10:00", [(0.0, (140, 180, 230)), (0.6, (250, 236, 210))],
          sea=[(0.0, (150, 200, 210)), (0.6, (60, 150, 170)), (1.0, (30, 100, 130))],
          sun=(0.8, 0.45, 44, (255, 250, 235)), seed=19),
    Scene("Fog in Sintra.jpg", "2024:07:19 07:30:00", [(0.0, (180, 190, 200)), (0.7, (230, 232, 230))],
          ridges=[Ridge(0.42, 0.08, (190, 200, 205), True), Ridge(0.55, 0.08, (150, 165, 170), True),
                  Ridge(0.7, 0.08, (100, 120, 120), True), Ridge(0.86, 0.05, (60, 80, 76), True)], seed=20),
]
ALPS = [
    Scene("Oeschinen lake.jpg", "2024:08:02 09:30:00", [(0.0, (70, 140, 210)), (0.6, (200, 225, 240))],
          horizon=0.64, sea=[(0.0, (60, 170, 170)), (1.0, (20, 90, 100))],
          ridges=[Ridge(0.4, 0.18, (200, 210, 225)), Ridge(0.55, 0.12, (90, 110, 120)),
                  Ridge(0.62, 0.03, (50, 90, 60), True)], seed=11),
    Scene("Blüemlisalp.jpg", "2024:08:02 12:10:00", NOON_SKY, clouds=3,
          ridges=[Ridge(0.35, 0.2, (235, 240, 248)), Ridge(0.5, 0.15, (120, 130, 150)),
                  Ridge(0.68, 0.1, (70, 110, 70), True)], seed=12),
    Scene("Hut at night.jpg", "2024:08:02 22:40:00", NIGHT_SKY, horizon=0.7, stars=400,
          ridges=[Ridge(0.55, 0.15, (30, 36, 60)), Ridge(0.75, 0.06, (10, 12, 22), True)], seed=13),
    Scene("Alpine dawn.jpg", "2024:08:03 06:20:00", DAWN_SKY, sun=(0.7, 0.5, 36, (255, 240, 210)),
          ridges=[Ridge(0.48, 0.16, (170, 150, 190)), Ridge(0.6, 0.12, (110, 100, 140)),
                  Ridge(0.75, 0.08, (60, 60, 90), True)], seed=14),
    PORTRAIT := Scene("PXL_20240803_071502.jpg", "2024:08:03 07:15:02",
                      [(0.0, (60, 120, 200)), (0.5, (170, 205, 235)), (0.6, (230, 236, 240))], horizon=0.7,
                      sun=(0.68, 0.2, 40, (255, 248, 225)), clouds=3,
                      ridges=[Ridge(0.38, 0.14, (236, 240, 248)), Ridge(0.5, 0.1, (120, 132, 150)),
                              Ridge(0.66, 0.06, (70, 110, 70), True), Ridge(0.84, 0.05, (40, 80, 46), True)],
                      seed=22, portrait=True),
]
CHAT_PHOTO = Scene("IMG_2041.jpg", "2024:07:17 20:35:00", SUNSET_SKY, horizon=0.64, sea=SUNSET_SEA,
                   sun=(0.35, 0.61, 60, (255, 220, 150)), ridges=[Ridge(0.62, 0.03, (50, 34, 60))], seed=21)


def write_photos(folder: Path, scenes: list[Scene]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for scene in scenes:
        path = folder / scene.file_name
        path.write_bytes(jpeg(scene))
        paths.append(path)
    return paths


# --- driving Qt and the engines -------------------------------------------------------------


class Deadline(Exception):
    pass


class Pump:
    """Waits on conditions while Qt (and with it asyncio, through qasync)
    runs: a nested event loop that wakes at least every few milliseconds to
    check, as pytest-qt's waitUntil does. Every wait ends by the deadline."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def until(self, condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        end = min(self.end, time.monotonic() + timeout)
        while not condition():
            if time.monotonic() > end:
                raise Deadline(f"timed out waiting for {what}")
            loop = QEventLoop()
            QTimer.singleShot(15, loop.quit)
            loop.exec()

    def run(self, work: Coroutine[Any, Any, T], what: str, timeout: float = 60.0) -> T:
        task = asyncio.ensure_future(work)
        self.until(task.done, what, timeout)
        return task.result()

    def engine(self, runtime: EngineRuntime, fn: Callable[..., T], *args: Any, what: str = "the engine") -> T:
        return self.run(runtime.call(fn, *args), what)

    def engine_until(self, runtime: EngineRuntime, fn: Callable[..., bool], *args: Any, what: str,
                     timeout: float = 60.0) -> None:
        """Asks the engine until `fn(node, *args)` holds (sync over the network)."""
        end = min(self.end, time.monotonic() + timeout)
        while not self.engine(runtime, fn, *args, what=what):
            if time.monotonic() > end:
                raise Deadline(f"timed out waiting for {what}")
            self.until(_after(0.1), what)  # let the network work between two questions


def _after(seconds: float) -> Callable[[], bool]:
    end = time.monotonic() + seconds
    return lambda: time.monotonic() >= end


@contextmanager
def engines(root: Path, names: list[str]) -> Iterator[list[EngineRuntime]]:
    """One profile per name, each on its engine thread with the network on
    127.0.0.1 and no LAN discovery, as the app runs it; always stopped."""
    started: list[EngineRuntime] = []
    try:
        for name in names:
            runtime = EngineRuntime(lambda name=name: Node.open(root / name),  # type: ignore[misc]
                                    background_services(["/ip4/127.0.0.1/tcp/0"], lan_discovery=False,
                                                        commands=forwarding_handler))
            runtime.start()
            if runtime.service_errors:
                raise RuntimeError(f"{name}: {runtime.service_errors}")
            started.append(runtime)
        yield started
    finally:
        for runtime in started:
            runtime.stop()


# --- the sample data: engine operations, run on each profile's engine thread --------------


def _set_name(node: Node, name: str) -> None:
    node.set_display_name(name)


def _create(node: Node, kind: ThreadKind, name: str) -> ThreadId:
    return node.create_thread(kind, name).thread_id


def _add_photos(node: Node, thread_id: ThreadId, paths: list[Path]) -> list[str]:
    result = node.photos(thread_id).add_files(paths)
    assert not result.failed, result.failed
    return list(result.added)


def _invite(node: Node, thread_id: ThreadId, role: Role, days: float = 7) -> str:
    return str(node.invite(thread_id, role, expires_in=days * 86400).to_uri())


def _join(node: Node, link: str) -> ThreadId:
    return node.join(InviteLink.parse(link))


def _joined(node: Node, thread_id: ThreadId) -> bool:
    """The join completed: the thread's records came and our membership holds."""
    try:
        return not node.membership.pending_join(thread_id)[0] and node.get_thread(thread_id).can_read
    except ThreadsError:  # not here yet
        return False


def _has_photo(node: Node, thread_id: ThreadId, photo_id: str) -> bool:
    return node.photos(thread_id).photos.find_one_by_id(photo_id) is not None


def _count(node: Node, thread_id: ThreadId, collection: str) -> int:
    return int(node.collections(thread_id)[collection].count())


def _post(node: Node, thread_id: ThreadId, text: str, reply_to: str | None = None) -> str:
    return str(node.chat(thread_id).post(text, reply_to=reply_to))


def _post_photo(node: Node, thread_id: ThreadId, path: Path, text: str) -> str:
    return str(node.chat(thread_id).post_photos(node.photos(thread_id), [path], text))


def _edit(node: Node, thread_id: ThreadId, message_id: str, text: str) -> None:
    node.chat(thread_id).edit(message_id, text)


def _react(node: Node, thread_id: ThreadId, message_id: str, emoji: str) -> None:
    node.chat(thread_id).react(message_id, emoji)


def _mark_read(node: Node, thread_id: ThreadId, message_id: str) -> None:
    node.chat(thread_id).mark_read(message_id)


def _photo_react(node: Node, thread_id: ThreadId, photo_id: str, emoji: str) -> None:
    node.photos(thread_id).react(photo_id, emoji)


def _comment(node: Node, thread_id: ThreadId, photo_id: str, text: str) -> None:
    node.photos(thread_id).comment(photo_id, text)


def _caption(node: Node, thread_id: ThreadId, photo_id: str, text: str) -> None:
    node.photos(thread_id).set_caption(photo_id, text)


@dataclass
class Sample:
    album: ThreadId
    chat: ThreadId
    viewer_photo: str
    alps: ThreadId
    portrait_photo: str


def build_sample(pump: Pump, ana: EngineRuntime, ben: EngineRuntime, carla: EngineRuntime, photos: Path) -> Sample:
    for runtime, name in ((ana, "Ana"), (ben, "Ben"), (carla, "Carla")):
        pump.engine(runtime, _set_name, name, what="display names")
    lisbon = write_photos(photos / "lisbon", LISBON)
    alps = write_photos(photos / "alps", ALPS)
    [chat_photo] = write_photos(photos / "chat", [CHAT_PHOTO])

    album = pump.engine(ana, _create, ThreadKind.ALBUM, "Lisbon, July 2024", what="an album")
    ids = pump.engine(ana, _add_photos, album, lisbon, what="importing photos")
    alps_album = pump.engine(ana, _create, ThreadKind.ALBUM, "Alps hiking", what="an album")
    alps_ids = pump.engine(ana, _add_photos, alps_album, alps, what="importing photos")
    pump.engine(ana, _create, ThreadKind.ALBUM, "Garden", what="an album")
    chat = pump.engine(ana, _create, ThreadKind.CHAT, "Family", what="a chat")
    pump.engine(ana, _create, ThreadKind.CHAT, "Weekend in Porto", what="a chat")

    # Ben may add to the album and write in the chat; Carla may view the album.
    # One join at a time, each complete before the next: a failure names its step.
    for runtime, thread_id, role, who in ((ben, album, Role.WRITE, "Ben"), (ben, chat, Role.WRITE, "Ben"),
                                          (carla, album, Role.READ, "Carla")):
        link = pump.engine(ana, _invite, thread_id, role, what="an invite")
        pump.engine(runtime, _join, link, what=f"{who} joining")
        pump.engine_until(runtime, _joined, thread_id, what=f"{who}'s join over the network")
    pump.engine(ana, _invite, album, Role.WRITE, 30, what="an invite nobody used yet")

    # The viewer's photo: a caption, comments and reactions from both.
    photo = ids[0]
    pump.engine(ana, _caption, album, photo, "The last light over Cascais, from the fort wall", what="a caption")
    pump.engine_until(ben, _has_photo, album, photo, what="the photo reaching Ben")
    pump.engine(ben, _comment, album, photo, "Wow, that colour! Print this one for the hallway?", what="a comment")
    pump.engine(ben, _photo_react, album, photo, "❤️", what="a reaction")
    pump.engine_until(ana, lambda node: _count(node, album, "comment") == 1, what="Ben's comment reaching Ana")
    pump.engine(ana, _comment, album, photo, "Yes! I'll get it framed.", what="a comment")
    pump.engine(ana, _photo_react, album, photo, "❤️", what="a reaction")
    pump.engine(ana, _photo_react, album, photo, "🎉", what="a reaction")

    # The chat, turn by turn: each waits for the other's message to arrive.
    def turn(runtime: EngineRuntime, count: int) -> None:
        pump.engine_until(runtime, lambda node: _count(node, chat, "message") >= count,
                          what="the chat syncing")

    first = pump.engine(ana, _post, chat, "Landed in Lisbon! 🌞 The light here is unreal.", what="a message")
    turn(ben, 1)
    dinner = pump.engine(ben, _post, chat, "Welcome! Dinner at 8 in Alfama? I know a little place with fado.",
                         what="a message")
    turn(ana, 2)
    pump.engine(ana, _react, chat, dinner, "👍", what="a reaction")
    tram = pump.engine(ana, _post, chat, "Perfect. Meet at the tram stop at 7:30", what="a message")
    pump.engine(ana, _post_photo, chat, chat_photo, "The view from our room tonight", what="a photo message")
    turn(ben, 4)
    sunset = pump.engine(ben, lambda node: str(node.chat(chat).history()[-1].id), what="the photo message")
    pump.engine(ben, _react, chat, sunset, "❤️", what="a reaction")
    pump.engine(ben, _post, chat, "That sunset 😍 Save me a spot on the balcony!", sunset, what="a reply")
    turn(ana, 5)
    pump.engine(ana, _edit, chat, tram, "Perfect. Meet at the tram stop at 7:45, the 28 is slow tonight",
                what="an edit")
    last = pump.engine(ana, _post, chat, "See you there!", what="a message")
    pump.engine(ana, _react, chat, first, "🎉", what="a reaction")
    pump.engine(ana, _mark_read, chat, last, what="reading the chat")
    turn(ben, 6)
    return Sample(album, chat, photo, alps_album, alps_ids[ALPS.index(PORTRAIT)])


# --- the screenshots --------------------------------------------------------------------------


def save(widget: QWidget, path: Path) -> None:
    if not widget.grab().save(str(path)):
        raise RuntimeError(f"could not write {path}")
    print(f"wrote {path}")


def shoot(pump: Pump, app: QApplication, loop: qasync.QEventLoop, ana: EngineRuntime, sample: Sample, root: Path,
          out: Path) -> None:
    client = EngineClient(ana, loop)
    window = MainWindow(client, AppSettings.from_file(root / "settings.ini"))
    loaded: list[bool] = []
    window.threads_loaded.connect(lambda: loaded.append(True))
    window.resize(*WINDOW_SIZE)
    window.show()
    try:
        pump.until(lambda: bool(loaded) and window.threads.rowCount() == 5, "the thread list")
        pump.until(lambda: window.network_status.isVisible(), "the network status", timeout=20)

        window.select_thread(str(sample.album))
        grid = window.album_view.model
        pump.until(lambda: grid.rowCount() == len(LISBON), "the album's photos")
        pump.until(lambda: all(grid.index(r).data(PhotoRole.THUMBNAIL) is not None for r in range(grid.rowCount())),
                   "the thumbnails")
        window.album_view.grid.clearFocus()
        app.processEvents()
        save(window, out / "main-window.png")
        save(window.album_view, out / "album-grid.png")

        shown: list[str] = []
        window.album_view.viewer.original_shown.connect(shown.append)
        window.album_view.open_viewer(window.album_view.model.row_of(sample.viewer_photo))
        viewer = window.album_view.viewer
        pump.until(lambda: bool(shown) and viewer.comments.rowCount() == 2, "the viewer")
        save(window, out / "viewer.png")
        window.album_view.close_viewer()
        shoot_portrait(pump, app, window, sample, out)

        members = window.ask_members()
        assert members is not None
        pump.until(lambda: members.snapshot is not None and members.members.rowCount() == 3
                   and members.invites.rowCount() == 3, "the members")
        app.processEvents()
        save(members, out / "members.png")
        members.close()

        invite = window.ask_invite()
        assert invite is not None
        links: list[str] = []
        invite.link_ready.connect(links.append)
        invite.create_button.click()
        pump.until(lambda: bool(links), "the invite link")
        app.processEvents()
        save(invite, out / "invite.png")
        invite.close()

        devices = window.ask_devices()
        pump.until(lambda: devices.model.rowCount() == 2 and all(
            devices.model.index(row).data(DeviceRole.PROGRESS_TEXT) == "Up to date" for row in range(2)),
            "the devices, up to date")
        app.processEvents()
        save(devices, out / "devices.png")
        devices.close()

        shoot_chat(pump, app, window, sample, out)
    finally:
        window.close()
        window.deleteLater()


def shoot_portrait(pump: Pump, app: QApplication, window: MainWindow, sample: Sample, out: Path) -> None:
    """A phone's portrait photo (stored sideways, EXIF orientation 6) in the viewer: upright."""
    window.select_thread(str(sample.alps))
    album = window.album_view
    pump.until(lambda: album.model.rowCount() == len(ALPS) and album.model.row_of(sample.portrait_photo) >= 0,
               "the Alps album")
    shown: list[str] = []
    album.viewer.original_shown.connect(shown.append)
    album.open_viewer(album.model.row_of(sample.portrait_photo))
    pump.until(lambda: sample.portrait_photo in shown, "the portrait photo")
    app.processEvents()
    save(window, out / "viewer-portrait.png")
    album.close_viewer()
    window.select_thread(str(sample.album))  # the members and invite shots are of Lisbon
    pump.until(lambda: album.model.rowCount() == len(LISBON), "the Lisbon album again")


def shoot_chat(pump: Pump, app: QApplication, window: MainWindow, sample: Sample, out: Path) -> None:
    view = window.chat_view
    loaded: list[bool] = []
    view.messages_loaded.connect(lambda: loaded.append(True))
    window.select_thread(str(sample.chat))
    pump.until(lambda: bool(loaded) and view.model.rowCount() == 6, "the chat's messages")
    # Attachments' thumbnails are decoded off the GUI thread: they come a moment later.
    pump.until(lambda: all(image is not None and not image.isNull()
                           for row in range(view.model.rowCount())
                           for image in view.model.index(row).data(MessageRole.THUMBNAILS) or []),
               "the chat's photo")
    view.list.scrollToBottom()
    app.processEvents()
    save(window, out / "chat.png")


def shoot_all(pump: Pump, app: QApplication, loop: qasync.QEventLoop, out: Path, started: float) -> None:
    """Fresh profiles in a temporary folder, the sample data, the screenshots."""
    with tempfile.TemporaryDirectory(prefix="threads-screenshots-") as tmp:
        root = Path(tmp)
        with engines(root, ["ana", "ben", "carla"]) as (ana, ben, carla):
            sample = build_sample(pump, ana, ben, carla, root / "photos")
            print(f"sample data ready after {time.monotonic() - started:.1f} s")
            shoot(pump, app, loop, ana, sample, root, out)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("DISPLAY"):
        print("no X display: run under xvfb-run (make screenshots)", file=sys.stderr)
        return 2
    os.environ["QT_QPA_PLATFORM"] = "xcb"  # real fonts and style, not the offscreen plugin's

    started = time.monotonic()
    app = QApplication(["threads-desktop"])
    app.setApplicationName("Threads")
    MainThreadCollector(app).start()  # as the app does: QObjects never die on an engine thread
    loop = qasync.QEventLoop(app, already_running=True)  # asyncio runs whenever Qt spins
    asyncio.set_event_loop(loop)
    pump = Pump(DEADLINE_SECONDS)
    try:
        shoot_all(pump, app, loop, out, started)
    except Deadline as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return 1
    finally:
        loop._QEventLoop__is_running = False  # stop() would quit Qt; see tests/ui/conftest.py
        loop.close()
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(None)
    print(f"done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
