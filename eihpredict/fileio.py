"""Generic file helpers: atomic writes and SHA-256 digests.

Nothing here knows about cohorts or models; the cohort reader, the scoring engine, the
model directory and training all use these two helpers.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

__all__ = ["OutputPathError", "atomic_path", "check_outputs", "load_yaml", "neutralise_formulas",
           "read_yaml", "same_file", "sha256_file"]

#: What a spreadsheet would run as a formula at the start of a cell (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class OutputPathError(ValueError):
    """An output path that would overwrite or remove one of the command's inputs."""


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


def check_outputs(outputs: Mapping[str, str | os.PathLike[str] | None],
                  inputs: Mapping[str, str | os.PathLike[str] | None], *,
                  replaced_directories: Iterable[str] = (),
                  sealed: Mapping[str, str | os.PathLike[str] | None] | None = None) -> None:
    """Refuse outputs that would overwrite an input, before any work is done.

    Parameters
    ----------
    outputs, inputs : mapping of a description (``"--out"``, ``"the data"``) to a path;
        ``None`` entries are skipped.
    replaced_directories : descriptions among ``outputs`` of directories replaced as a
        whole (a model directory): an input anywhere inside one is refused too.
    sealed : mapping of a description to a directory no output may be written into (a
        model directory, whose checksums would then fail).

    Raises
    ------
    OutputPathError
        Naming the output, the input and both paths.

    Examples
    --------
    >>> check_outputs({"--report": "a.csv"}, {"the cohort": "a.csv"})
    Traceback (most recent call last):
    ...
    eihpredict.fileio.OutputPathError: a.csv: --report would overwrite the cohort a.csv
    """
    replaced = set(replaced_directories)
    outs = {k: Path(v) for k, v in outputs.items() if v is not None}
    ins = {k: Path(v) for k, v in inputs.items() if v is not None}
    for out_name, out in outs.items():
        for in_name, source in ins.items():
            if same_file(out, source):
                raise OutputPathError(f"{out}: {out_name} would overwrite {in_name} {source}")
            if out_name in replaced and out.resolve() in source.resolve().parents:
                raise OutputPathError(f"{out}: {out_name} is replaced as a whole and holds "
                                      f"{in_name} {source}; choose another directory")
    for sealed_name, directory in (sealed or {}).items():
        for out_name, out in outs.items():
            if directory is not None and Path(directory).resolve() in out.resolve().parents:
                raise OutputPathError(f"{out}: {out_name} may not be written inside "
                                      f"{sealed_name} {directory} (its checksums would no "
                                      "longer match)")
    names = list(outs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if same_file(outs[a], outs[b]):
                raise OutputPathError(f"{outs[a]}: {a} and {b} name the same file")


def load_yaml(text: str):
    """``yaml.safe_load`` that refuses a key given twice in one mapping (YAML itself keeps
    the last one silently) and any alias (``*name``: a few lines of nested aliases expand
    to billions of values, in every section of a file alike); the error carries the line
    like any YAML error.

    Examples
    --------
    >>> load_yaml("{a: 1, b: [2]}")
    {'a': 1, 'b': [2]}
    >>> import yaml
    >>> try:
    ...     load_yaml("{a: 1, a: 2}")
    ... except yaml.YAMLError as exc:
    ...     print(str(exc).splitlines()[:2])
    ["key 'a' is given twice", '  in "<unicode string>", line 1, column 8:']
    >>> try:
    ...     load_yaml("a: &x [1, 2]\\nb: *x")
    ... except yaml.YAMLError as exc:
    ...     print(str(exc).splitlines()[0])
    alias *x is not allowed (write the value out; anchors and aliases are refused)
    """
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.events.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"alias *{event.anchor} is not allowed (write the value "
                    "out; anchors and aliases are refused)", event.start_mark)
            return super().compose_node(parent, index)

    def construct_unique(loader, node):
        keys = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node)
            if key in keys:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark)
            keys.add(key)
        return loader.construct_mapping(node)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                    construct_unique)
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader


def read_yaml(path: str | os.PathLike[str], what: str):
    """A YAML file (keys unique, as :func:`load_yaml`) read for ``what`` (``"config
    file"``): every way it can fail is a ``ValueError`` naming the file, and the line and
    column where the YAML is wrong."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, not a {what}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file (byte {exc.start}: "
                         f"{exc.object[exc.start:exc.start + 1]!r})") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"{path}: not valid YAML{where}: {problem}") from None
