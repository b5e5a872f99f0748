"""Local code folders uploaded as code versions, as `az ml` uploads `code: ./src`.

The folder is zipped here (without `__pycache__`) and named by its content hash, the same
hash the service computes (relative paths and bytes), so uploading the same folder again
names the version that holds it already.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from client._entities import DocumentError


def folder_files(folder: Path) -> list[tuple[Path, str]]:
    if not folder.is_dir():
        raise DocumentError(f"code {folder}: no such folder")
    files = sorted((p, p.relative_to(folder).as_posix()) for p in folder.rglob("*")
                   if p.is_file() and "__pycache__" not in p.relative_to(folder).parts)
    if not files:
        raise DocumentError(f"code {folder}: the folder has no files")
    return sorted(files, key=lambda item: item[1])


def zip_folder(folder: Path) -> tuple[bytes, str]:
    """The folder as a zip, and its content hash."""
    buf = io.BytesIO()
    digest = hashlib.sha256()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in folder_files(folder):
            data = path.read_bytes()
            archive.writestr(name, data)
            digest.update(name.encode() + b"\0" + data + b"\0")
    return buf.getvalue(), digest.hexdigest()
