"""Paints a chat message as a bubble: ours on the right in the accent colour,
others' on the left under their author's name; a reply quote, photo
thumbnails, the text, the time (and "edited"), reactions as chips below; the
"New messages" line above the first unread message; a membership notice
("Bob joined (invited by Alice)") as a line of small muted text, centred.

One layout function serves both sizeHint and paint, so what is measured is
what is drawn. Clicking a chip toggles that reaction (`reaction_clicked`);
double-clicking a photo opens it (`photo_opened`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QFontMetricsF, QImage, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView, QStyledItemDelegate, QStyleOptionViewItem

from threads_desktop.ui.models.message_list_model import MessageRole
from threads_desktop.ui.operations.chat import Reaction
from threads_desktop.ui.widgets.rows import stable_colour

_Index = QModelIndex | QPersistentModelIndex

SIDE = 12  # space between a bubble and the view's edge
PAD = 8  # inside a bubble
GAP = 4
ROW_GAP = 4
RADIUS = 12
BUBBLE_MAX = 520
THUMB = 120  # a thumbnail fits in this square
CHIP_HEIGHT = 22
MARKER_HEIGHT = 28
_TEXT_FLAGS = Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap
_MARKER_COLOUR = QColor("#d14b3d")
NOTICE_PAD = 6  # above and below a membership notice


@dataclass
class BubbleLayout:
    """Rects relative to the row's top-left corner."""

    height: int = 0
    marker: QRect | None = None
    bubble: QRect = field(default_factory=QRect)
    author: QRect | None = None
    quote: QRect | None = None
    photos: list[QRect] = field(default_factory=list)
    text: QRect | None = None
    footer: QRect = field(default_factory=QRect)
    chips: list[tuple[QRect, Reaction]] = field(default_factory=list)


def small_font(font: QFont) -> QFont:
    small = QFont(font)
    small.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
    return small


def bold_font(font: QFont) -> QFont:
    bold = small_font(font)
    bold.setBold(True)
    return bold


def notice_rect(font: QFont, width: int, text: str) -> QRect:
    """Where a notice's words go in a row `width` wide (relative to the text's top)."""
    inner = QRect(0, 0, max(1, width - 4 * SIDE), 10_000)
    used = QFontMetrics(small_font(font)).boundingRect(inner, Qt.AlignmentFlag.AlignHCenter
                                                       | Qt.TextFlag.TextWordWrap, text)
    return QRect(2 * SIDE, 0, inner.width(), used.height())


def _thumb_size(image: QImage | None) -> QSize:
    if image is None or image.isNull():
        return QSize(THUMB, THUMB * 3 // 4)  # a placeholder until the photo arrives
    return image.size().scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio)


def footer_text(index: _Index, edited_label: str) -> str:
    time = str(index.data(MessageRole.TIME) or "")
    return f"{edited_label} · {time}" if index.data(MessageRole.EDITED) else time


def chip_text(reaction: Reaction) -> str:
    return f"{reaction.emoji} {reaction.count}"


def layout_message(index: _Index, font: QFont, width: int, edited_label: str) -> BubbleLayout:
    out = BubbleLayout()
    base, small, bold = QFontMetrics(font), QFontMetrics(small_font(font)), QFontMetrics(bold_font(font))
    mine = bool(index.data(MessageRole.MINE))
    y = ROW_GAP
    if index.data(MessageRole.UNREAD_MARKER):
        out.marker = QRect(0, y, width, MARKER_HEIGHT)
        y += MARKER_HEIGHT
    inner_max = max(80, min(BUBBLE_MAX, int(width * 0.75)) - 2 * PAD)
    parts: list[tuple[str, QSize]] = []  # what the bubble holds, top to bottom
    if not mine:
        name = str(index.data(MessageRole.AUTHOR_NAME) or "")
        # The exact advance, rounded up: the rounded-down one is a fraction of
        # a pixel short, and eliding at that width cut "Alice" to "Ali…".
        exact = math.ceil(QFontMetricsF(bold_font(font)).horizontalAdvance(name))
        parts.append(("author", QSize(min(inner_max, exact), bold.height())))
    if index.data(MessageRole.REPLY_TO):
        quote = _quote_text(index)
        parts.append(("quote", QSize(min(inner_max, small.horizontalAdvance(quote) + 3 * GAP + 4),
                                     small.height() + 2 * GAP)))
    thumbnails: list[QImage | None] = index.data(MessageRole.THUMBNAILS) or []
    photo_rects: list[QRect] = []
    if thumbnails:
        x = row_y = row_height = 0
        for image in thumbnails:
            size = _thumb_size(image)
            if x and x + size.width() > inner_max:  # wrap to the next row
                x, row_y, row_height = 0, row_y + row_height + GAP, 0
            photo_rects.append(QRect(QPoint(x, row_y), size))
            x += size.width() + GAP
            row_height = max(row_height, size.height())
        extent = QRect()
        for rect in photo_rects:
            extent = extent.united(rect)
        parts.append(("photos", extent.size()))
    text = str(index.data(MessageRole.TEXT) or "")
    if text:
        bounds = base.boundingRect(QRect(0, 0, inner_max, 1_000_000), _TEXT_FLAGS, text)
        parts.append(("text", QSize(min(inner_max, bounds.width()), bounds.height())))
    footer = footer_text(index, edited_label)
    footer_size = QSize(small.horizontalAdvance(footer), small.height())
    inner = max([footer_size.width(), 40, *(size.width() for _, size in parts)])
    bubble_width = inner + 2 * PAD
    left = width - SIDE - bubble_width if mine else SIDE
    top = y
    y += PAD
    for kind, size in parts:
        rect = QRect(left + PAD, y, size.width(), size.height())
        if kind == "author":
            out.author = rect
        elif kind == "quote":
            out.quote = QRect(rect.left(), rect.top(), inner, rect.height())
        elif kind == "photos":
            out.photos = [r.translated(rect.left(), rect.top()) for r in photo_rects]
        else:
            out.text = QRect(rect.left(), rect.top(), inner, rect.height())
        y += size.height() + GAP
    out.footer = QRect(left + PAD + inner - footer_size.width(), y, footer_size.width(), footer_size.height())
    y += footer_size.height() + PAD
    out.bubble = QRect(left, top, bubble_width, y - top)
    reactions: list[Reaction] = index.data(MessageRole.REACTIONS) or []
    if reactions:
        y += GAP
        x = 0
        chips: list[tuple[QRect, Reaction]] = []
        for reaction in reactions:
            chip_width = small.horizontalAdvance(chip_text(reaction)) + 2 * PAD
            if x and x + chip_width > inner_max + 2 * PAD:
                x, y = 0, y + CHIP_HEIGHT + GAP
            chips.append((QRect(x, y, chip_width, CHIP_HEIGHT), reaction))
            x += chip_width + GAP
        row_extent = max(rect.right() for rect, _ in chips) + 1
        shift = width - SIDE - row_extent if mine else SIDE
        out.chips = [(rect.translated(shift, 0), reaction) for rect, reaction in chips]
        y += CHIP_HEIGHT
    out.height = y + ROW_GAP
    return out


def _quote_text(index: _Index) -> str:
    quote = index.data(MessageRole.REPLY_QUOTE)
    author = index.data(MessageRole.REPLY_AUTHOR_NAME)
    if quote is None:
        return "↩ …"  # the quoted message was deleted, or has not arrived yet
    return f"↩ {author}: {quote or '📷'}"


def mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * t, a.greenF() + (b.greenF() - a.greenF()) * t,
                           a.blueF() + (b.blueF() - a.blueF()) * t)


class MessageDelegate(QStyledItemDelegate):
    reaction_clicked = Signal(str, str, bool)  # message ID, emoji, switch on
    photo_opened = Signal(str, int)  # message ID, which of its photos

    def __init__(self, view: QAbstractItemView) -> None:
        super().__init__(view)
        self._view = view

    def _width(self, option: QStyleOptionViewItem) -> int:
        # A list view gives no useful width to sizeHint: take the viewport's.
        return max(200, self._view.viewport().width() or option.rect.width())

    def layout(self, option: QStyleOptionViewItem, index: _Index) -> BubbleLayout:
        return layout_message(index, option.font, self._width(option), self.tr("edited"))

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        notice = index.data(MessageRole.NOTICE)
        if notice is not None:
            return QSize(self._width(option), notice_rect(option.font, self._width(option), str(notice)).height()
                         + 2 * NOTICE_PAD)
        return QSize(self._width(option), self.layout(option, index).height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        notice = index.data(MessageRole.NOTICE)
        if notice is not None:
            self._paint_notice(painter, option, str(notice))
            return
        geometry = layout_message(index, option.font, option.rect.width(), self.tr("edited"))
        palette = option.palette
        mine = bool(index.data(MessageRole.MINE))
        text_colour = palette.color(QPalette.ColorRole.HighlightedText if mine else QPalette.ColorRole.Text)
        muted = QColor(text_colour)
        muted.setAlphaF(0.7)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(option.rect.topLeft())
        painter.setClipRect(QRect(0, 0, option.rect.width(), option.rect.height()))
        if geometry.marker is not None:
            self._paint_marker(painter, option.font, geometry.marker)
        bubble_colour = palette.color(QPalette.ColorRole.Highlight) if mine else mix(
            palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text), 0.09)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(bubble_colour)
        painter.drawRoundedRect(geometry.bubble, RADIUS, RADIUS)
        if geometry.author is not None:
            painter.setFont(bold_font(option.font))
            painter.setPen(_author_colour(str(index.data(MessageRole.AUTHOR_PERSON) or ""), palette))
            painter.drawText(geometry.author, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             painter.fontMetrics().elidedText(str(index.data(MessageRole.AUTHOR_NAME) or ""),
                                                              Qt.TextElideMode.ElideRight, geometry.author.width()))
        if geometry.quote is not None:
            quote_background = QColor(text_colour)
            quote_background.setAlphaF(0.1)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(quote_background)
            painter.drawRoundedRect(geometry.quote, 4, 4)
            painter.setBrush(muted)
            painter.drawRect(QRect(geometry.quote.left(), geometry.quote.top(), 3, geometry.quote.height()))
            painter.setFont(small_font(option.font))
            painter.setPen(muted)
            inside = geometry.quote.adjusted(3 + GAP, 0, -GAP, 0)
            painter.drawText(inside, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             painter.fontMetrics().elidedText(_quote_text(index), Qt.TextElideMode.ElideRight,
                                                              inside.width()))
        thumbnails: list[QImage | None] = index.data(MessageRole.THUMBNAILS) or []
        for rect, image in zip(geometry.photos, thumbnails, strict=False):
            if image is None or image.isNull():
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(mix(bubble_colour, text_colour, 0.15))
                painter.drawRoundedRect(rect, 6, 6)
            else:
                painter.drawImage(rect, image)
        if geometry.text is not None:
            painter.setFont(option.font)
            painter.setPen(text_colour)
            painter.drawText(geometry.text, _TEXT_FLAGS, str(index.data(MessageRole.TEXT) or ""))
        painter.setFont(small_font(option.font))
        painter.setPen(muted)
        painter.drawText(geometry.footer, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         footer_text(index, self.tr("edited")))
        self._paint_chips(painter, option, geometry)
        painter.restore()

    def _paint_notice(self, painter: QPainter, option: QStyleOptionViewItem, text: str) -> None:
        muted = option.palette.color(QPalette.ColorRole.Text)
        muted.setAlphaF(0.6)
        painter.save()
        painter.setFont(small_font(option.font))
        painter.setPen(muted)
        rect = notice_rect(option.font, option.rect.width(), text).translated(
            option.rect.left(), option.rect.top() + NOTICE_PAD)
        painter.drawText(rect, Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap, text)
        painter.restore()

    def _paint_marker(self, painter: QPainter, font: QFont, rect: QRect) -> None:
        label = self.tr("New messages")
        painter.setFont(bold_font(font))
        text_width = painter.fontMetrics().horizontalAdvance(label) + 2 * PAD
        middle = rect.center().y()
        painter.setPen(_MARKER_COLOUR)
        text_left = rect.center().x() - text_width // 2
        painter.drawLine(rect.left() + SIDE, middle, text_left, middle)
        painter.drawLine(text_left + text_width, middle, rect.right() - SIDE, middle)
        painter.drawText(QRect(text_left, rect.top(), text_width, rect.height()), Qt.AlignmentFlag.AlignCenter, label)

    def _paint_chips(self, painter: QPainter, option: QStyleOptionViewItem, geometry: BubbleLayout) -> None:
        palette = option.palette
        base, text, accent = (palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text),
                              palette.color(QPalette.ColorRole.Highlight))
        painter.setFont(small_font(option.font))
        for rect, reaction in geometry.chips:
            painter.setPen(accent if reaction.mine else Qt.PenStyle.NoPen)
            painter.setBrush(mix(base, accent, 0.18) if reaction.mine else mix(base, text, 0.07))
            painter.drawRoundedRect(rect.adjusted(0, 0, -1, -1), CHIP_HEIGHT / 2, CHIP_HEIGHT / 2)
            painter.setPen(text)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, chip_text(reaction))

    def chip_at(self, option: QStyleOptionViewItem, index: _Index, point: QPoint) -> Reaction | None:
        """The reaction chip under `point` (in viewport coordinates), if any."""
        local = point - option.rect.topLeft()
        for rect, reaction in layout_message(index, option.font, option.rect.width(), self.tr("edited")).chips:
            if rect.contains(local):
                return reaction
        return None

    def photo_at(self, option: QStyleOptionViewItem, index: _Index, point: QPoint) -> int:
        """Which of the message's photos is under `point` (viewport
        coordinates), or -1."""
        local = point - option.rect.topLeft()
        rects = layout_message(index, option.font, option.rect.width(), self.tr("edited")).photos
        return next((n for n, rect in enumerate(rects) if rect.contains(local)), -1)

    def editorEvent(self, event: QEvent, model: object, option: QStyleOptionViewItem, index: _Index) -> bool:
        if (isinstance(event, QMouseEvent) and event.type() == QEvent.Type.MouseButtonDblClick
                and event.button() == Qt.MouseButton.LeftButton):
            photo = self.photo_at(option, index, event.position().toPoint())
            if photo >= 0:
                self.photo_opened.emit(str(index.data(MessageRole.MESSAGE_ID)), photo)
                return True
        if (isinstance(event, QMouseEvent) and event.type() == QEvent.Type.MouseButtonRelease
                and event.button() == Qt.MouseButton.LeftButton):
            reaction = self.chip_at(option, index, event.position().toPoint())
            if reaction is not None:
                self.reaction_clicked.emit(str(index.data(MessageRole.MESSAGE_ID)), reaction.emoji, not reaction.mine)
                return True
        return False


_AUTHOR_COLOURS = ("#c0392b", "#1e8449", "#2e6da4", "#8e44ad", "#b9770e", "#117a65", "#a93267", "#5d6d7e")


def _author_colour(author: str, palette: QPalette) -> QColor:
    """A steady colour per author, toned for the palette (light or dark)."""
    colour = stable_colour(author, _AUTHOR_COLOURS)
    if palette.color(QPalette.ColorRole.Base).lightnessF() < 0.5:
        colour = colour.lighter(160)
    return colour
