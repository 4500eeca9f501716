"""The folder an interface may read and write: paths given by an agent or a chat stay under it.

A path is taken relative to the root, resolved (following links and ``..``) and refused when it
lands outside the root; a link at the place of an output is refused too, so nothing is written
through it. Paths given on a command line by the user are the user's own and are not scoped.
"""

from __future__ import annotations

from pathlib import Path

from layeredit.errors import ScopeError, clip


class FileScope:
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"FileScope({str(self.root)!r})"

    def path(self, given: str | Path, what: str = "path") -> Path:
        """``given`` inside the root (relative paths are taken from the root), or a :class:`ScopeError`."""
        candidate = Path(given).expanduser()
        candidate = candidate if candidate.is_absolute() else self.root / candidate
        resolved = candidate.resolve()
        if not resolved.is_relative_to(self.root):
            raise ScopeError(
                f"{what} {clip(str(given))!r} is outside the folder this tool may use ({self.root}); "
                "use a path inside it (start the server with --root to choose the folder)"
            )
        return resolved

    def output(self, given: str | Path, what: str = "output path") -> Path:
        """A place to write inside the root; a link there is refused rather than written through."""
        candidate = Path(given).expanduser()
        candidate = candidate if candidate.is_absolute() else self.root / candidate
        if candidate.is_symlink():
            raise ScopeError(f"{what} {clip(str(given))!r} is a symbolic link; write to a plain file")
        return self.path(given, what)


def scoped(scope: FileScope | None, given: str | Path, what: str = "path") -> Path:
    """``given`` checked against ``scope`` (or taken as it is without one)."""
    return Path(given).expanduser() if scope is None else scope.path(given, what)
