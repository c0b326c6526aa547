"""The model directory's manifest (``checksums.sha256``), standard library only.

Every file of the directory is listed with its SHA-256; verification refuses an empty
or malformed manifest, a listed file that is missing or altered, and a file that is not
listed (``__pycache__`` folders aside: Python writes them when the directory's code is
imported). It runs before anything in the directory is unpickled or imported, also when
MLflow loads the directory (see ``eihpredict.model_dir``), so it imports nothing of
eihpredict.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["MANIFEST", "ManifestError", "manifest_digest", "verify_manifest",
           "write_manifest"]

MANIFEST = "checksums.sha256"


class ManifestError(ValueError):
    """A model directory whose files do not match its manifest (one readable line)."""


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and "__pycache__" not in p.relative_to(root).parts
                  and p.name != MANIFEST)


def write_manifest(root: str | os.PathLike[str]) -> str:
    """List every file of ``root`` with its SHA-256; return the manifest's own digest."""
    root = Path(root)
    lines = [f"{_digest(root / rel)}  {rel}" for rel in _files(root)]
    (root / MANIFEST).write_text("\n".join(lines) + "\n")
    return manifest_digest(root)


def manifest_digest(root: str | os.PathLike[str]) -> str:
    """SHA-256 of the manifest itself: one value that stands for the whole directory."""
    return _digest(Path(root) / MANIFEST)


def verify_manifest(root: str | os.PathLike[str]) -> None:
    """Check every file of ``root`` against its manifest.

    Raises
    ------
    ManifestError
        Naming the first problem: no or empty manifest, a malformed line (its number),
        a missing, altered or unlisted file.
    """
    root = Path(root)
    path = root / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{root}: not an eihpredict model directory ({MANIFEST} is "
                            "missing)")
    listed: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64 or not rel or rel in listed or ".." in rel.split("/"):
            raise ManifestError(f"{root}: {MANIFEST} line {number} is malformed")
        listed[rel] = digest
    if not listed:
        raise ManifestError(f"{root}: {MANIFEST} is empty")
    for rel in _files(root):
        if rel not in listed:
            raise ManifestError(f"{root}: file {rel!r} is not in {MANIFEST} (added after "
                                "training?); remove it or restore the directory")
    for rel, digest in listed.items():
        file = root / rel
        if not file.is_file():
            raise ManifestError(f"{root}: file {rel!r} is missing")
        if _digest(file) != digest:
            raise ManifestError(f"{root}: file {rel!r} was altered after training (SHA-256 "
                                "mismatch); retrain or restore the directory")
