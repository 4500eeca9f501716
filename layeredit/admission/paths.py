"""Files a document names beside itself (a scene folder's layers), read only from inside its folder.

A name is relative, has no ``..`` and, resolved through any links, stays inside the folder: a
``scene.json`` can name its own layers and nothing else on the disk. Messages show the name as the
document gave it, never where it resolved to, so they tell nothing about the rest of the disk.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

from layeredit.errors import InputError, ScopeError, clip

MAX_FILE_BYTES = 512 * 2**20  # one layer or picture file; the pixel budget is checked on its header


def relative_name(name: str, what: str) -> PurePosixPath:
    """``name`` as a path below a folder, or a :class:`ScopeError` when it is absolute or climbs out."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if not name or posix.is_absolute() or PureWindowsPath(name).drive or ".." in posix.parts or "\0" in name:
        raise ScopeError(f"{what} {clip(name)!r} must be a file name inside the scene's folder")
    return posix


class FolderFiles:
    """The files inside ``folder``, read by the names a document there gives them."""

    def __init__(self, folder: Path):
        self.folder = folder.resolve()

    def _path(self, name: str, what: str) -> Path:
        path = (self.folder / relative_name(name, what)).resolve()
        if not path.is_relative_to(self.folder):
            raise ScopeError(f"{what} {clip(name)!r} links outside the scene's folder; copy the file into it")
        return path

    def exists(self, name: str, what: str) -> bool:
        try:
            return self._path(name, what).is_file()
        except OSError as exc:  # a name too long for the file system
            raise _unopened(name, what, exc) from None

    def read(self, name: str, what: str) -> bytes:
        path = self._path(name, what)
        try:
            if not path.is_file():
                raise InputError(f"{what} {clip(name)!r} is missing from the scene's folder")
            if path.stat().st_size > MAX_FILE_BYTES:
                raise InputError(f"{what} {clip(name)!r} is larger than {MAX_FILE_BYTES} bytes")
            return path.read_bytes()
        except OSError as exc:  # a name too long for the file system, a file we may not read
            raise _unopened(name, what, exc) from None


def _unopened(name: str, what: str, exc: OSError) -> InputError:
    """The error for a file the system would not open, by its name in the document (never the
    resolved path)."""
    return InputError(f"{what} {clip(name)!r} cannot be opened ({exc.strerror})")
