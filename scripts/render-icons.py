#!/usr/bin/env python3
"""Renders the app icon's PNGs from its one SVG source
(threads_desktop/ui/icons/threads-desktop.svg) into
resources/icons/hicolor/<N>x<N>/apps/threads-desktop.png, the layout of the
freedesktop icon theme, so packagers copy the folder as it is.

Run after changing the SVG: `.venv/bin/python scripts/render-icons.py`
(optionally with another folder to render into)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "threads_desktop" / "ui" / "icons" / "threads-desktop.svg"
THEME = ROOT / "resources" / "icons" / "hicolor"


def render(source: Path = SOURCE, theme: Path = THEME, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display needed
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (QPainter wants one)
    renderer = QSvgRenderer(str(source))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {source}")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)  # scales the viewBox to the whole image
        painter.end()
        target = theme / f"{size}x{size}" / "apps" / "threads-desktop.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(target)):  # PNG, from the suffix
            raise SystemExit(f"cannot write {target}")
        written.append(target)
    return written


if __name__ == "__main__":
    # An optional folder to render into instead (tests).
    for path in render(theme=Path(sys.argv[1]) if len(sys.argv) > 1 else THEME):
        print(path)
