"""Names people give (objects, layers, files) turned into file names and download headers.

A file name is an injective encoding of the name: letters, digits and ``-`` stay, every other
character becomes ``_<hex code>_``, so "red ball" (``red_20_ball``) and "red_ball"
(``red_5f_ball``) never share a file. The name itself is kept and shown as given.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

STEM_LIMIT = 96  # characters of an encoded stem; longer ones end in a digest of the whole name


def _kept(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "-")


def safe_stem(name: str) -> str:
    """A file-name stem for ``name``: distinct names give distinct stems, on any file system that
    keeps case."""
    encoded = "".join(char if _kept(char) else f"_{ord(char):x}_" for char in name) or "_"
    if len(encoded) <= STEM_LIMIT:
        return encoded
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"{encoded[: STEM_LIMIT - 22]}~{digest}"  # '~' is never kept, so no short stem looks alike


def content_disposition(filename: str) -> str:
    """An ``attachment`` header for ``filename`` that any name can travel in (RFC 6266): an ASCII
    fallback plus the UTF-8 ``filename*``."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    plain = f'attachment; filename="{fallback}"'
    return plain if fallback == filename else f"{plain}; filename*=UTF-8''{quote(filename, safe='')}"


def choice_number(text: str, count: int) -> int | None:
    """The 1-based number of one of ``count`` choices typed as ``text``, or None when it is not one
    (only ASCII digits count: "¹" or "٣" are not numbers here, and nor is a 5000-digit string)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(count)):
        return None
    number = int(text)
    return number if 1 <= number <= count else None
