"""MLflow "models from code" entry of an eihpredict model directory.

``save_model_dir`` writes this file into each model directory with the SHA-256 of the
directory's verifier (``code/eihpredict/_manifest.py``) filled in below. When MLflow
loads the directory (``mlflow.pyfunc.load_model``, ``spark_udf``, ``mlflow models
serve``) this file runs first: it compiles the verifier from its source bytes after
checking their digest, the verifier checks every file and folder of the directory
against ``checksums.sha256`` (and the manifest against ``EIHPREDICT_MODEL_DIGEST`` when
that is set), and only then is the directory's code imported, from its ``.py`` files
only (no bytecode cache read or written), and the model unpickled. What stays trusted:
this file and ``MLmodel`` (MLflow reads both before anything can be checked); check
them out of band with ``eihpredict verify --model DIR --digest SHA256``.
"""

import hashlib
import os
import sys
import types
from pathlib import Path

VERIFIER_SHA256 = "__VERIFIER_SHA256__"

_root = Path(__file__).resolve().parent
if (_root / "MLmodel").is_file():  # a saved directory (not MLflow's trial run at saving)
    # The import system may just have cached this very file's bytecode beside it: that
    # one file is tolerated (it is what is running) and removed.
    _own_cache = f"__pycache__/{Path(__file__).stem}.{sys.implementation.cache_tag}.pyc"
    for _stale in (_root / _own_cache, _root / "__pycache__"):
        try:
            os.rmdir(_stale) if _stale.name == "__pycache__" else os.unlink(_stale)
        except OSError:
            pass
    _verifier = _root / "code" / "eihpredict" / "_manifest.py"
    _source = _verifier.read_bytes()
    if hashlib.sha256(_source).hexdigest() != VERIFIER_SHA256:
        raise RuntimeError(f"{_root}: code/eihpredict/_manifest.py was altered after "
                           "training; refusing to load the model")
    _manifest = types.ModuleType("_eihpredict_manifest")
    _manifest.__file__ = str(_verifier)
    sys.modules[_manifest.__name__] = _manifest  # dataclasses and the like look it up
    exec(compile(_source, str(_verifier), "exec", dont_inherit=True), _manifest.__dict__)
    # raises ManifestError on any altered, unlisted or linked file, or another digest
    _manifest.verify_manifest(_root, os.environ.get("EIHPREDICT_MODEL_DIGEST") or None,
                              allowed=(_own_cache,))
    _write_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        _manifest.import_from_source(_root / "code", "eihpredict")
    finally:
        sys.dont_write_bytecode = _write_bytecode

import mlflow.models  # noqa: E402  (only after the directory is verified)

from eihpredict._pyfunc import EIHPyfuncModel  # noqa: E402

mlflow.models.set_model(EIHPyfuncModel())
