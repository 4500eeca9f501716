"""Zip archives (OpenRaster files, zipped scene folders) opened with every member checked first.

Before a single member is read: the names are plain relative names, no member is a link, and the
count, each member's size and the total size, as the archive declares them, are within limits. A
member is then read with its own limit too, so an archive lying about sizes gets no further. Nothing
is ever extracted to disk.
"""

from __future__ import annotations

import io
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from layeredit.admission.paths import relative_name
from layeredit.errors import InputError, ScopeError, clip


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 1024
    max_member_bytes: int = 512 * 2**20
    max_total_bytes: int = 2 * 2**30


class Archive:
    """A checked zip: ``read`` a member by name, within the limits."""

    def __init__(self, archive: zipfile.ZipFile, where: str, limits: ArchiveLimits):
        self.archive, self.where, self.limits = archive, where, limits
        self.names = {info.filename for info in archive.infolist() if not info.is_dir()}

    def exists(self, name: str, what: str = "file") -> bool:
        return name in self.names

    def read(self, name: str, what: str = "file") -> bytes:
        if name not in self.names:
            raise InputError(f"{self.where} has no {what} {clip(name)!r}")
        with self.archive.open(name) as member:
            data = member.read(self.limits.max_member_bytes + 1)
        if len(data) > self.limits.max_member_bytes:
            raise InputError(f"{what} {clip(name)!r} in {self.where} is larger than it declares")
        return data

    def close(self) -> None:
        self.archive.close()


def open_archive(source: bytes | Path, where: str, limits: ArchiveLimits | None = None) -> Archive:
    """The zip in ``source`` (bytes or a file), checked as the module says; ``where`` names it."""
    limits = limits or ArchiveLimits()
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(f"{where} is not a readable zip archive ({clip(str(exc))})") from None
    try:
        check_members(members, where, limits)
    except InputError:
        archive.close()
        raise
    return Archive(archive, where, limits)


def check_members(members: list[zipfile.ZipInfo], where: str, limits: ArchiveLimits) -> None:
    if len(members) > limits.max_members:
        raise InputError(f"{where} has {len(members)} entries; at most {limits.max_members} are read")
    total = 0
    for info in members:
        relative_name(info.filename.rstrip("/") or ".", f"entry of {where}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ScopeError(f"{where} holds a link ({clip(info.filename)!r}); archives may hold only files")
        if info.file_size > limits.max_member_bytes:
            raise InputError(
                f"{clip(info.filename)!r} in {where} unpacks to {info.file_size} bytes, more than the "
                f"{limits.max_member_bytes} one entry may have"
            )
        total += info.file_size
    if total > limits.max_total_bytes:
        raise InputError(
            f"{where} unpacks to {total} bytes, more than the {limits.max_total_bytes} an archive may have"
        )
