"""Where a result may be written: never over an input, never over an existing file unless the user
asked (``--overwrite`` / ``overwrite``), and compared by where paths resolve to, so ``./a.png``,
``a.png`` and ``sub/../a.png`` are one file. Also the leftovers of writes a crash interrupted.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from layeredit.errors import InputError, ScopeError, clip


def same_file(one: str | Path, other: str | Path) -> bool:
    """Whether two paths name the same place once resolved (links followed, ``..`` and ``.`` gone)."""
    return Path(one).expanduser().resolve() == Path(other).expanduser().resolve()


def claim_output(
    given: str | Path, inputs: Iterable[str | Path] = (), overwrite: bool = False, what: str = "output"
) -> Path:
    """``given`` as a place to write one file, refused when it is one of ``inputs`` (even with
    ``overwrite``) or an existing file (unless ``overwrite``)."""
    path = Path(given).expanduser()
    for source in inputs:
        if same_file(path, source):
            raise InputError(
                f"{what} {clip(str(given))} is an input of this edit; write the result elsewhere"
            )
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise InputError(
            f"{what} {clip(str(given))} already exists; choose another name or ask to overwrite it"
        )
    return path


def claim_folder(
    given: str | Path, inputs: Iterable[str | Path] = (), overwrite: bool = False, what: str = "output folder"
) -> Path:
    """``given`` as a folder to write files into: refused when it holds an input (even with
    ``overwrite``) or already holds files (unless ``overwrite``)."""
    path = Path(given).expanduser()
    resolved = path.resolve()
    for source in inputs:
        if Path(source).expanduser().resolve().is_relative_to(resolved):
            raise InputError(
                f"{what} {clip(str(given))} holds an input of this edit; write the layers to a new folder"
            )
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {clip(str(given))} is a file; give a folder name")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise InputError(
            f"{what} {clip(str(given))} is not empty; choose a new folder or ask to overwrite it"
        )
    return path


def inside_folder(folder: str | Path, name: str | Path, what: str = "output") -> Path:
    """``folder / name`` when, with links followed, it stays inside ``folder``."""
    base = Path(folder).expanduser().resolve()
    path = base / name
    if not path.resolve().is_relative_to(base):
        raise ScopeError(
            f"{what} {clip(str(name))!r} leads outside {clip(str(folder))} (through a link or '..')"
        )
    return path


class OutputClaims:
    """The outputs of a run so far, by resolved path, so no two writers share one file."""

    def __init__(self) -> None:
        self.owners: dict[Path, str] = {}

    def claim(self, path: str | Path, owner: str, shown: str | None = None, what: str = "output") -> None:
        """Note ``path`` as ``owner``'s; ``shown`` is how the user wrote it."""
        resolved = Path(path).expanduser().resolve()
        if resolved in self.owners:
            raise InputError(
                f"{what} {clip(shown or str(path))!r} is also written by {self.owners[resolved]}"
            )
        self.owners[resolved] = owner
