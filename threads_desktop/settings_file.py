"""The app's settings file read without Qt, for the command line: the CLI
honours the data folder chosen in the app without importing PySide6.

The app writes the file through QSettings (ui/settings.py); on Linux and
the BSDs that is an INI file at `$XDG_CONFIG_HOME/Threads/Threads
Desktop.conf`. Only plain string values are read here, undoing Qt's
escaping as QSettingsPrivate::iniUnescapedStringList and stringToVariant
do (quotes, backslash escapes, a leading "@")."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

ORGANIZATION = "Threads"
APPLICATION = "Threads Desktop"
DATA_DIR_KEY = "profile/data_dir"

log = logging.getLogger(__name__)

_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   '"': '"', "?": "?", "'": "'", "\\": "\\"}
_HEX = "0123456789abcdefABCDEF"


def user_settings_path() -> Path | None:
    """Where QSettings(ORGANIZATION, APPLICATION) keeps the user's settings,
    or None where Qt's native format is not an INI file (the Windows
    registry, macOS property lists)."""
    if sys.platform in ("win32", "darwin"):
        return None
    import platformdirs

    return Path(platformdirs.user_config_dir()) / ORGANIZATION / f"{APPLICATION}.conf"


def chosen_data_dir(settings_file: Path | None = None) -> Path | None:
    """The data folder chosen in the app's settings (the user's file unless
    given), or None: none chosen, no file, or a file that cannot be read."""
    path = settings_file or user_settings_path()
    if path is None:
        return None
    value = read_string(path, DATA_DIR_KEY)
    return Path(value).expanduser() if value else None


def read_string(path: Path, key: str) -> str | None:
    """A string value QSettings wrote at `key` ("group/name"), or None when
    it is missing or not a plain string (a list, a byte array)."""
    group, _, name = key.rpartition("/")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:  # the app rewrites it; the CLI goes on
        log.warning("cannot read the app's settings in %s: %s", path, exc)
        return None
    raw = _raw_value(text, f"[{group or 'General'}]", name)
    return None if raw is None else unescape_string(raw)


def _raw_value(text: str, section: str, name: str) -> str | None:
    """The text after `name=` in `section`, as written (the last one wins,
    as in Qt). Not configparser: it strips every Unicode space around a
    value (U+00A0, U+0085), which may end a folder's name; Qt keeps them."""
    found, current = None, None
    for line in text.split("\n"):
        stripped = line.rstrip("\r").strip(" \t")
        if not stripped or stripped[0] in ";#":
            continue
        if stripped.startswith("["):
            current = stripped
        elif current == section:
            key, equals, value = stripped.partition("=")
            if equals and key.strip(" \t") == name:
                found = value
    return found


def unescape_string(raw: str) -> str | None:
    """One INI value as QSettings reads it back, if it is a plain string;
    None for a list (a comma outside quotes) or a typed value (@ByteArray…)."""
    text = _unescape(raw)
    if text is None:
        return None
    if text.startswith("@"):
        if text.startswith("@String(") and text.endswith(")"):
            return text[len("@String("):-1]
        if text.startswith("@@"):
            return text[1:]
        if text.endswith(")"):  # @ByteArray(...), @Variant(...), @Invalid(): not a path
            return None
    return text


def _unescape(raw: str) -> str | None:
    units: list[int] = []  # UTF-16 code units, as Qt's \x escapes give them
    quoted = seen_quote = False
    kept = 0
    index, end = _skip_blanks(raw, 0), len(raw)
    while index < end:
        ch = raw[index]
        index += 1
        if ch == "\\":
            if index == end:
                break  # a backslash at the very end escapes nothing
            ch = raw[index]
            index += 1
            if ch in _SIMPLE_ESCAPES:
                units.append(ord(_SIMPLE_ESCAPES[ch]))
            elif ch == "x":
                start = index
                while index < end and raw[index] in _HEX:
                    index += 1
                if index > start:
                    units.append(int(raw[start:index], 16) & 0xFFFF)
            elif ch in "01234567":
                start = index - 1
                while index < end and raw[index] in "01234567":
                    index += 1
                units.append(int(raw[start:index], 8) & 0xFFFF)
            # anything else after a backslash is dropped, as Qt does
            kept = len(units)  # blanks written as escapes are never chopped
        elif ch == '"':
            quoted, seen_quote = not quoted, True
            if not quoted:
                index = _skip_blanks(raw, index)
        elif ch == "," and not quoted:
            return None  # a string list
        else:
            units.extend(_utf16(ch))
    if not seen_quote:  # an unquoted value loses its trailing blanks, those escaped aside
        while len(units) > kept and units[-1] in (0x20, 0x09):
            units.pop()
    return _join(units)


def _skip_blanks(raw: str, index: int) -> int:
    while index < len(raw) and raw[index] in " \t":
        index += 1
    return index


def _utf16(ch: str) -> list[int]:
    encoded = ch.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(encoded[i:i + 2], "little") for i in range(0, len(encoded), 2)]


def _join(units: list[int]) -> str | None:
    data = b"".join(unit.to_bytes(2, "little") for unit in units)
    try:
        return data.decode("utf-16-le")
    except UnicodeDecodeError:  # a lone surrogate: no path is made of that
        return None
