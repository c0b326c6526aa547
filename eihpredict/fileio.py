"""Generic file helpers: atomic writes and SHA-256 digests.

Nothing here knows about cohorts or models; the cohort reader, the scoring engine, the
model directory and training all use these two helpers.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "neutralise_formulas", "same_file", "sha256_file"]

#: What a spreadsheet would run as a formula at the start of a cell (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Files are created with the permissions the umask gives (like any other tool's output),
#: not the 0600 of a temporary file.
FILE_MODE = 0o666 & ~_umask()


def neutralise_formulas(values):
    """Text cells a spreadsheet would run as a formula, prefixed with a single quote.

    Examples
    --------
    >>> neutralise_formulas(["=1+1", "ok", "-x", None])
    ["'=1+1", 'ok', "'-x", None]
    """
    return [("'" + v) if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v
            for v in values]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success.

    A failure or interrupt inside the block removes the temporary file, so the final
    name holds either the complete output or nothing new.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """The same file, whatever the spelling (resolved paths, symlinks, hard links)."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False
