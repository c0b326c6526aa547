"""The model directory (contract section 5): an MLflow pyfunc model plus metadata.

Layout::

    MODEL_DIR/
      MLmodel, python_model.pkl, artifacts/model.joblib, code/eihpredict/...  (MLflow)
      requirements.txt, python_env.yaml, input_example.json                   (MLflow)
      metadata.json      contract version, features, label rule, threshold, metrics,
                         training data fingerprint and summary, package versions
      model_card.md      human-readable model card (TRIPOD+AI items)
      plots/*.png        ROC, calibration and decision curves
      checksums.sha256   SHA-256 of every other file

Serialisation: the fitted pipeline is a joblib pickle inside a pyfunc model built
from code (``_pyfunc_entry.py``, so no pickled wrapper class). MLflow's sklearn
flavour now defaults to skops, which refuses a pipeline holding LightGBM, and the
probability we serve is the calibrated one, which no stock flavour knows. Pickle
runs code when loaded, so every load first checks the whole directory against
``checksums.sha256`` (:mod:`eihpredict._manifest`: every file listed, none altered or
missing, no unlisted file or folder, bytecode caches included, no symbolic link):
:func:`load_model_dir` does, and so does the generated ``_pyfunc_entry.py`` that MLflow
runs first, before any code of the directory is imported (from source only) or the
model unpickled. What stays trusted is that entry file and ``MLmodel``; the manifest's
digest (:attr:`LoadedModel.digest`, printed at training and logged with the run)
checks them out of band: :func:`check_model_dir` (``eihpredict verify --digest``), or
``EIHPREDICT_MODEL_DIGEST`` for every loader. Checksums alone catch alteration, not an
attacker who rewrites the whole directory (docs/security.md). ``code/`` holds a copy
of this package, so MLflow can load the model where eihpredict is not installed.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._manifest import MANIFEST, ManifestError, manifest_digest, verify_manifest, write_manifest
from .fileio import OutputPathError, check_outputs, sha256_file
from .mapping import StudyMapping
from .modeling import FittedModel
from .schema import COLUMN_BY_NAME, READABLE_CONTRACT_VERSIONS

__all__ = ["DirectoryCheck", "LoadedModel", "ModelDirectoryError", "check_model_destination",
           "check_model_dir", "load_model_dir", "save_model_dir"]

CHECKSUMS = MANIFEST
METADATA = "metadata.json"
DIGEST_ENV = "EIHPREDICT_MODEL_DIGEST"
MODEL_CARD = "model_card.md"


class ModelDirectoryError(ValueError):
    """A model directory that is missing, incomplete, altered or for another contract."""


@dataclass
class LoadedModel:
    model: FittedModel
    metadata: dict[str, Any]
    path: Path

    @property
    def digest(self) -> str:
        """SHA-256 of the directory's manifest: one value for every file in it."""
        return manifest_digest(self.path)

    @property
    def version(self) -> str:
        return str(self.metadata["model_version"])

    @property
    def min_observed_share(self) -> float:
        """Rows with a smaller share of the model's inputs observed are not scored
        (``missing.min_observed_share`` of the training config; 0 in older models)."""
        return float(self.metadata.get("missing", {}).get("min_observed_share", 0.0))

    @functools.cached_property
    def mapping(self) -> StudyMapping | None:
        """The study mapping stored at training (read once), or ``None``."""
        stored = self.metadata.get("mapping")
        return StudyMapping.from_dict(stored, source="the model's stored mapping") \
            if stored else None


def signature_for(model: FittedModel, mapping: dict | None = None):
    """MLflow signature: the columns the model may read, and its outputs.

    Inputs are typed ``Any``: MLflow's own type enforcement would refuse what
    ``pandas.read_csv`` gives (an item column without missing cells is ``int64``, which
    it will not cast to ``double``; integer ids). The values are checked row by row by
    the contract's validator instead, and a bad row gets a ``reject_reason``. A model
    trained with a study mapping also lists the study's own columns (all optional, since
    a file uses either the study's names or the contract's), so MLflow passes them on.
    """
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    names = ["participant_id", *[c for c in model.input_columns if c != "participant_id"]]
    inputs = [ColSpec(AnyType(), name, required=COLUMN_BY_NAME[name].required and not mapping)
              for name in names]
    inputs += [ColSpec(AnyType(), name, required=False) for name in model.optional_columns
               if name not in names]  # read when given (a continuous model's pre value)
    names += [name for name in model.optional_columns if name not in names]
    if mapping:
        from .mapping import StudyMapping

        study = StudyMapping.from_dict(mapping).source_columns
        inputs += [ColSpec(AnyType(), name, required=False) for name in study
                   if name not in names]
    outputs = [ColSpec("string", "participant_id")]
    types = model.output_types
    outputs += [ColSpec(types.get(name, "double"), name, required=False)
                for name in model.output_columns]
    outputs.append(ColSpec("string", "reject_reason", required=False))
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def _requirements() -> list[str]:
    from importlib.metadata import version

    from .modeling import FAMILIES

    names = ["numpy", "pandas", "scikit-learn", "scipy", "pyarrow", "pydantic", "joblib",
             "mlflow"]
    # the packages every registered model family needs (its own declaration)
    names += sorted({p for f in FAMILIES.values() for p in f.packages} - set(names))
    return [f"{n}=={version(n)}" for n in names]


def check_model_destination(path: str | os.PathLike[str],
                            inputs: dict[str, Any] | None = None) -> None:
    """Refuse a model directory destination that saving would destroy or cannot write.

    Saving replaces the whole directory, so the destination must be new, an empty
    directory or an earlier model directory (``MLmodel`` and ``metadata.json``), must not
    hold any of ``inputs`` (the data, the config, the mapping), and its parent must be
    writable. Called before training, so nothing is fitted for a save that would fail.

    Raises
    ------
    OutputPathError
    """
    final = Path(path)
    if final.exists() or final.is_symlink():
        if not final.is_dir():
            raise OutputPathError(f"{final}: the model directory would replace an existing "
                                  "file; choose another --out")
        if any(final.iterdir()) and not ((final / "MLmodel").is_file()
                                          and (final / METADATA).is_file()):
            raise OutputPathError(f"{final}: exists and is not a model directory (saving "
                                  "replaces it whole); empty it or choose another --out")
    check_outputs({"the model directory": final}, inputs or {},
                  replaced_directories=["the model directory"])
    parent = final.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{final}: cannot write the model directory ({parent} is not "
                              "writable)")


def save_model_dir(model: FittedModel, path: str | os.PathLike[str], *,
                   metadata: dict[str, Any], model_card: str,
                   input_example=None, plots: dict[str, Path] | None = None,
                   extra_artifacts: dict[str, Any] | None = None) -> Path:
    """Write the model directory atomically (a failed save leaves the old one intact).

    ``extra_artifacts`` (file name -> object) are joblib-dumped into ``artifacts/``
    before the checksums are written (the prescription's bootstrap refits)."""
    import joblib
    import mlflow.pyfunc

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    check_model_destination(path)
    final = Path(path).resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        staging = work / "model"
        blob = work / "model.joblib"
        joblib.dump(model, blob)
        here = Path(__file__).resolve().parent
        entry = work / "_pyfunc_entry.py"
        entry.write_text((here / "_pyfunc_entry.py").read_text().replace(
            "__VERIFIER_SHA256__", sha256_file(here / "_manifest.py")))
        mlflow.pyfunc.save_model(
            path=str(staging),
            python_model=str(entry),
            artifacts={"model": str(blob)},
            signature=signature_for(model, metadata.get("mapping")),
            input_example=_example(input_example),
            pip_requirements=_requirements(),
            code_paths=[str(Path(__file__).resolve().parent)],
        )
        _relative_paths(staging / "MLmodel")
        for name, value in (extra_artifacts or {}).items():
            joblib.dump(value, staging / "artifacts" / name)
        (staging / METADATA).write_text(json.dumps(metadata, indent=2, default=str))
        (staging / MODEL_CARD).write_text(model_card)
        for name, png in (plots or {}).items():
            (staging / "plots").mkdir(exist_ok=True)
            shutil.copyfile(png, staging / "plots" / name)
        _drop_bytecode(staging)
        write_manifest(staging)
        if final.exists():  # the old directory goes into the work folder, removed below
            os.replace(final, work / "previous")
        os.replace(staging, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def _drop_bytecode(staging: Path) -> None:
    """No bytecode cache goes into a model directory (copied with the package's code or
    written while MLflow tried the entry file): the directory holds source only."""
    for cache in sorted(staging.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)
    for pyc in [*staging.rglob("*.pyc"), *staging.rglob("*.pyo")]:
        pyc.unlink()


def _relative_paths(mlmodel: Path) -> None:
    """MLmodel without the building machine's absolute paths (MLflow reads only the file
    names: the entry file by its base name, the artifact by its ``path``)."""
    import yaml

    data = yaml.safe_load(mlmodel.read_text())
    flavour = data["flavors"]["python_function"]
    if "model_code_path" in flavour:
        flavour["model_code_path"] = Path(flavour["model_code_path"]).name
    for artifact in flavour.get("artifacts", {}).values():
        if "uri" in artifact:
            artifact["uri"] = artifact["path"]
    mlmodel.write_text(yaml.safe_dump(data, sort_keys=False))


def _example(frame):
    """Input example in the signature's types: text as plain strings, numbers as floats."""
    if frame is None:
        return None
    out = frame.copy()
    for col in out.columns:
        spec = COLUMN_BY_NAME.get(col)
        if spec is not None and spec.is_numeric:
            out[col] = out[col].astype("float64")
        else:
            out[col] = out[col].astype("object").where(out[col].notna(), None)
    return out


def verify_model_dir(path: str | os.PathLike[str], digest: str | None = None
                     ) -> dict[str, Any]:
    """Check a model directory's files and contract version; return its metadata.

    Parameters
    ----------
    path : path
        The model directory.
    digest : str, optional
        The directory's digest (SHA-256 of ``checksums.sha256``) recorded at training;
        without it, the ``EIHPREDICT_MODEL_DIGEST`` environment variable when set.

    Raises
    ------
    ModelDirectoryError
        Missing directory or file, a file altered since training, an unlisted file or
        folder (bytecode caches included), a symbolic link, another digest, or a model
        made for another contract version.
    """
    root = Path(path)
    if not root.is_dir():
        raise ModelDirectoryError(f"{root}: no such model directory")
    if digest is None:
        digest = os.environ.get(DIGEST_ENV) or None
    try:
        verify_manifest(root, digest)
    except ManifestError as exc:
        raise ModelDirectoryError(str(exc)) from None
    metadata = json.loads((root / METADATA).read_text())
    if metadata.get("contract_version") not in READABLE_CONTRACT_VERSIONS:
        raise ModelDirectoryError(
            f"{root}: model made for cohort contract version "
            f"{metadata.get('contract_version')!r}; this eihpredict reads versions "
            f"{', '.join(map(str, READABLE_CONTRACT_VERSIONS))}"
        )
    return metadata


@dataclass(frozen=True)
class DirectoryCheck:
    """Result of :func:`check_model_dir`: what was checked and the directory's digest.

    Attributes
    ----------
    path : Path
        The model directory.
    digest : str
        SHA-256 of its ``checksums.sha256``.
    n_files : int
        Files listed (and found unaltered).
    digest_checked : bool
        Whether ``digest`` was compared with an expected value.
    model_version : str
        The model's version (``metadata.json``).
    """

    path: Path
    digest: str
    n_files: int
    digest_checked: bool
    model_version: str


def check_model_dir(path: str | os.PathLike[str], digest: str | None = None
                    ) -> DirectoryCheck:
    """Check a whole model directory without loading anything from it.

    Every file against ``checksums.sha256`` (none missing, altered or unlisted, no
    folder unlisted, no bytecode cache, no symbolic link), the contract version, and,
    when ``digest`` is given (or ``EIHPREDICT_MODEL_DIGEST`` is set), the manifest's
    own SHA-256 against it: the value printed at training, kept outside the directory.

    Parameters
    ----------
    path : path
        The model directory.
    digest : str, optional
        The expected SHA-256 of ``checksums.sha256`` (64 hex characters).

    Returns
    -------
    DirectoryCheck

    Raises
    ------
    ModelDirectoryError
        The first problem found, in one line.

    Examples
    --------
    >>> import tempfile
    >>> try:
    ...     check_model_dir(tempfile.mkdtemp())
    ... except ModelDirectoryError as exc:
    ...     print("refused:", "checksums.sha256 is missing" in str(exc))
    refused: True
    """
    if digest is None:
        digest = os.environ.get(DIGEST_ENV) or None
    metadata = verify_model_dir(path, digest)
    root = Path(path)
    n_files = len((root / CHECKSUMS).read_text().splitlines())
    return DirectoryCheck(path=root, digest=manifest_digest(root), n_files=n_files,
                          digest_checked=digest is not None,
                          model_version=str(metadata.get("model_version")))


def load_model_dir(path: str | os.PathLike[str], digest: str | None = None) -> LoadedModel:
    """Verify and load a model directory (see :func:`verify_model_dir`)."""
    import joblib

    metadata = verify_model_dir(path, digest)
    model = joblib.load(Path(path) / "artifacts" / "model.joblib")
    return LoadedModel(model=model, metadata=metadata, path=Path(path))
