"""Folders sent as zip files (code assets, model folders): checked, hashed and unpacked.

A zip is refused when it is too large, unpacks too large (a zip bomb), has too many entries,
or names a path that would land outside its folder (absolute, `..`, a drive, a symlink).
Its content hash covers the files' relative paths and bytes, not the zip's own bytes (dates
and compression differ between zips of the same folder), so the same folder hashes the same.
Unpacked folders are cached per process machine under that hash, written atomically.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tempfile
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from scoring.errors import ScoringConfigError

MAX_ZIP_BYTES = 100 * 1024 * 1024  # an HTTP request body on Azure Functions: 100 MB
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class FolderZip:
    """A checked zip: its files (relative POSIX paths, sorted) and content hash."""

    data: bytes
    files: tuple[str, ...]
    size: int  # unpacked bytes
    sha256: str


def _safe_name(name: str) -> str | None:
    """The entry's relative path, or None when it would escape the folder."""
    if "\\" in name or "\0" in name:
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or any(p in ("..", "") for p in path.parts if p != ".") or (
            path.parts and ":" in path.parts[0]):
        return None
    return path.as_posix()


def check_zip(data: bytes, field: str) -> FolderZip:
    """Raise ScoringConfigError(field, rule) unless `data` is a zip that is safe to unpack."""
    if len(data) > MAX_ZIP_BYTES:
        raise ScoringConfigError(field, f"is larger than {MAX_ZIP_BYTES} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise ScoringConfigError(field, "is not a zip file") from None
    if len(entries) > MAX_ENTRIES:
        raise ScoringConfigError(field, f"holds more than {MAX_ENTRIES} entries")
    files: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in entries:
        name = _safe_name(info.filename.rstrip("/") if info.is_dir() else info.filename)
        if name is None:
            raise ScoringConfigError(field, f"entry {info.filename!r} would be unpacked "
                                     "outside its folder")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ScoringConfigError(field, f"entry {info.filename!r} is a symbolic link")
        if info.is_dir():
            continue
        total += info.file_size
        if total > MAX_UNPACKED_BYTES:
            raise ScoringConfigError(field, f"unpacks to more than {MAX_UNPACKED_BYTES} bytes")
        files[name] = info
    if not files:
        raise ScoringConfigError(field, "holds no files")
    digest = hashlib.sha256()
    try:
        for name in sorted(files):
            digest.update(name.encode() + b"\0")
            with archive.open(files[name]) as f:
                read = 0
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    read += len(chunk)
                    if read > files[name].file_size:  # a header that lies about its size
                        raise ScoringConfigError(field, f"entry {name!r} is larger than its "
                                                 "header says")
                    digest.update(chunk)
            digest.update(b"\0")
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as e:
        raise ScoringConfigError(field, f"cannot be read: {e}") from None
    return FolderZip(data, tuple(sorted(files)), total, digest.hexdigest())


def unpack(data: bytes, target: Path, sha256: str) -> None:
    """Unpack the zip into `target` if it is safe and its content hash is `sha256` (a blob
    changed since registration is refused, not run)."""
    checked = check_zip(data, "zip")
    if checked.sha256 != sha256:
        raise ScoringConfigError("zip", f"content hash {checked.sha256} is not the registered "
                                 f"{sha256}: the stored folder was changed")
    archive = zipfile.ZipFile(io.BytesIO(data))
    by_name = {_safe_name(i.filename): i for i in archive.infolist() if not i.is_dir()}
    for name in checked.files:
        path = target.joinpath(*PurePosixPath(name).parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(by_name[name]) as src, path.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def cache_root() -> Path:
    return Path(os.environ.get("BATCH_FOLDER_CACHE")
                or Path(tempfile.gettempdir()) / "batch-endpoints-folders")


def cached(kind: str, key: str, fill: Callable[[Path], None]) -> Path:
    """The folder `<cache>/<kind>/<key>`, filled once by `fill(folder)`; a half-filled one
    is never seen (filled beside it, then renamed into place)."""
    target = cache_root() / kind / key
    if target.is_dir():
        return target
    staging = target.with_name(f".{key}.{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    try:
        fill(staging)
        try:
            staging.rename(target)
        except OSError:  # another thread or process got there first
            if not target.is_dir():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target

