"""The model directory's manifest (``checksums.sha256``), standard library only.

Every file of the directory is listed with its SHA-256. Verification refuses an empty
or malformed manifest, a listed file that is missing or altered, any file or folder
that is not listed (bytecode caches, ``__pycache__`` and ``.pyc``, included: a planted
cache runs instead of the listed source), any symbolic link and anything that is not a
plain file or folder. It runs before anything in the directory is unpickled or
imported, also when MLflow loads the directory (see ``eihpredict.model_dir``), so it
imports nothing of eihpredict; the generated MLflow entry file runs it from source.

:func:`import_from_source` then imports the directory's bundled package from its
``.py`` files only: no cached bytecode is read or written for it.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import stat
import sys
from pathlib import Path

__all__ = ["MANIFEST", "ManifestError", "import_from_source", "manifest_digest",
           "verify_manifest", "write_manifest"]

MANIFEST = "checksums.sha256"
_HEX = frozenset("0123456789abcdef")


class ManifestError(ValueError):
    """A model directory whose files do not match its manifest (one readable line)."""


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _scan(root: Path) -> tuple[list[str], list[str]]:
    """Files and folders under ``root`` (relative, ``/``-separated), links not followed.

    Raises ManifestError on a symbolic link or anything but plain files and folders.
    """
    files: list[str] = []
    folders: list[str] = []
    pending = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = prefix + entry.name
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISLNK(mode):
                    raise ManifestError(
                        f"{root}: {rel!r} is a symbolic link; a model directory holds no "
                        "links (one could bring in code the manifest does not list): "
                        "replace it by the real files or restore the directory")
                if stat.S_ISDIR(mode):
                    folders.append(rel)
                    pending.append((Path(entry.path), rel + "/"))
                elif stat.S_ISREG(mode):
                    files.append(rel)
                else:
                    raise ManifestError(f"{root}: {rel!r} is not a plain file or folder")
    return sorted(files), sorted(folders)


def _is_bytecode(rel: str) -> bool:
    return "__pycache__" in rel.split("/") or rel.endswith((".pyc", ".pyo"))


def write_manifest(root: str | os.PathLike[str]) -> str:
    """List every file of ``root`` with its SHA-256; return the manifest's own digest.

    Raises
    ------
    ManifestError
        ``root`` holds a symbolic link or a bytecode cache (never saved into a model
        directory).
    """
    root = Path(root)
    files = [rel for rel in _scan(root)[0] if rel != MANIFEST]
    cached = [rel for rel in files if _is_bytecode(rel)]
    if cached:
        raise ManifestError(f"{root}: bytecode cache {cached[0]!r} in a model directory "
                            "being saved")
    lines = [f"{_digest(root / rel)}  {rel}" for rel in files]
    (root / MANIFEST).write_text("\n".join(lines) + "\n")
    return manifest_digest(root)


def manifest_digest(root: str | os.PathLike[str]) -> str:
    """SHA-256 of the manifest itself: one value that stands for the whole directory."""
    return _digest(Path(root) / MANIFEST)


def _check_digest(root: Path, data: bytes, digest: str | None) -> None:
    if digest is None:
        return
    expected = digest.strip().lower()
    if len(expected) != 64 or not set(expected) <= _HEX:
        raise ManifestError(f"the expected digest {digest!r} is not a SHA-256 (64 hex "
                            "characters)")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ManifestError(
            f"{root}: the directory's digest is {actual}, not the expected {expected}: "
            "this is not the model directory you recorded (replaced or rewritten); "
            "restore the directory from a copy you trust")


def verify_manifest(root: str | os.PathLike[str], digest: str | None = None, *,
                    allowed: tuple[str, ...] = ()) -> None:
    """Check every file and folder of ``root`` against its manifest.

    Parameters
    ----------
    root : path
        The model directory.
    digest : str, optional
        The SHA-256 of ``checksums.sha256`` that the user recorded at training; the
        manifest read here must have it.
    allowed : tuple of str
        Files tolerated although unlisted (the MLflow entry file's own bytecode, which
        the import system writes before the entry can check anything).

    Raises
    ------
    ManifestError
        Naming the first problem: a digest that differs, no or empty manifest, a
        malformed line (its number), a symbolic link, a missing, altered or unlisted
        file or folder.
    """
    root = Path(root)
    path = root / MANIFEST
    if path.is_symlink() or not path.is_file():
        raise ManifestError(f"{root}: not an eihpredict model directory ({MANIFEST} is "
                            "missing)")
    data = path.read_bytes()
    _check_digest(root, data, digest)
    listed: dict[str, str] = {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError(f"{root}: {MANIFEST} is not UTF-8 text") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    for number, line in enumerate(lines, start=1):
        digest_hex, sep, rel = line.partition("  ")
        parts = rel.split("/")
        if (not sep or len(digest_hex) != 64 or not set(digest_hex) <= _HEX or not rel
                or rel in listed or rel == MANIFEST or rel.startswith("/")
                or any(p in ("", ".", "..") for p in parts) or "\\" in rel
                or "\r" in rel or "\0" in rel):
            raise ManifestError(f"{root}: {MANIFEST} line {number} is malformed")
        listed[rel] = digest_hex
    if not listed:
        raise ManifestError(f"{root}: {MANIFEST} is empty")
    files, folders = _scan(root)
    allowed_folders = {rel.rsplit("/", 1)[0] for rel in allowed if "/" in rel}
    listed_folders = {"/".join(rel.split("/")[:i]) for rel in listed
                      for i in range(1, rel.count("/") + 1)}
    for rel in folders:
        if rel not in listed_folders and rel not in allowed_folders:
            raise ManifestError(_unlisted(root, rel, "folder"))
    for rel in files:
        if rel != MANIFEST and rel not in listed and rel not in allowed:
            raise ManifestError(_unlisted(root, rel, "file"))
    for rel, expected in listed.items():
        if _is_bytecode(rel):
            raise ManifestError(f"{root}: {MANIFEST} lists bytecode {rel!r}; a model "
                                "directory holds source only")
        file = root / rel
        if not file.is_file():
            raise ManifestError(f"{root}: file {rel!r} is missing")
        if _digest(file) != expected:
            raise ManifestError(f"{root}: file {rel!r} was altered after training (SHA-256 "
                                "mismatch); retrain or restore the directory")


def _unlisted(root: Path, rel: str, what: str) -> str:
    if _is_bytecode(rel):
        return (f"{root}: {what} {rel!r} is a bytecode cache, not in {MANIFEST} (a planted "
                "cache runs code on load; an older eihpredict let Python write them when "
                "MLflow loaded the directory): delete every __pycache__ folder in it, or "
                "restore the directory")
    return (f"{root}: {what} {rel!r} is not in {MANIFEST} (added after training?); "
            "remove it or restore the directory")


class _SourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles the ``.py`` file itself: never reads nor writes cached bytecode."""

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        return compile(self.get_data(path), path, "exec", dont_inherit=True)


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds ``package`` and its submodules under ``folder``, from ``.py`` files only."""

    def __init__(self, folder: Path, package: str) -> None:
        self.folder, self.package = folder, package

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.package and not fullname.startswith(self.package + "."):
            return None
        if fullname != self.package:
            parent = sys.modules.get(self.package)
            spec = getattr(parent, "__spec__", None)
            if not isinstance(getattr(spec, "loader", None), _SourceLoader):
                return None  # the package came from elsewhere (installed): leave it be
        base = self.folder.joinpath(*fullname.split("."))
        if (base / "__init__.py").is_file():
            file = base / "__init__.py"
            return importlib.util.spec_from_file_location(
                fullname, file, loader=_SourceLoader(fullname, str(file)),
                submodule_search_locations=[str(base)])
        file = base.with_name(base.name + ".py")
        if file.is_file():
            return importlib.util.spec_from_file_location(
                fullname, file, loader=_SourceLoader(fullname, str(file)))
        raise ModuleNotFoundError(f"No module named {fullname!r} in {self.folder}",
                                  name=fullname)


def import_from_source(folder: str | os.PathLike[str], package: str) -> None:
    """Import ``package`` (and later its submodules) from the ``.py`` files in ``folder``.

    Installs a finder ahead of Python's own, so no cached bytecode of the package is
    read or written. A package already imported (an installed eihpredict) is left as
    it is.
    """
    folder = Path(folder)
    if not any(isinstance(f, _SourceFinder) and f.folder == folder and f.package == package
               for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFinder(folder, package))
    importlib.import_module(package)
