"""MLflow "models from code" entry of an eihpredict model directory.

``save_model_dir`` writes this file into each model directory with the SHA-256 of the
directory's verifier (``code/eihpredict/_manifest.py``) filled in below. When MLflow
loads the directory (``mlflow.pyfunc.load_model``, ``spark_udf``, ``mlflow models
serve``) this file runs first: it checks the verifier's digest, then the verifier checks
every file of the directory against ``checksums.sha256``, and only then is any code of
the directory imported or the model unpickled. What stays trusted: this file and
``MLmodel`` (MLflow reads both before anything can be checked); keep a copy of
``checksums.sha256``'s digest (logged as ``model_dir_sha256`` in the training run) to
check those out of band.
"""

import hashlib
import importlib.util
from pathlib import Path

VERIFIER_SHA256 = "66094269def8e3cd3339c1d51a7e4509a366cafe43a7ae4ce8a8cf11a4e0d15b"

_root = Path(__file__).resolve().parent
if (_root / "MLmodel").is_file():  # a saved directory (not MLflow's trial run at saving)
    _verifier = _root / "code" / "eihpredict" / "_manifest.py"
    if hashlib.sha256(_verifier.read_bytes()).hexdigest() != VERIFIER_SHA256:
        raise RuntimeError(f"{_root}: code/eihpredict/_manifest.py was altered after "
                           "training; refusing to load the model")
    _spec = importlib.util.spec_from_file_location("_eihpredict_manifest", _verifier)
    _manifest = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_manifest)
    _manifest.verify_manifest(_root)  # raises ManifestError on any altered or extra file

import mlflow.models  # noqa: E402  (only after the directory is verified)

from eihpredict._pyfunc import EIHPyfuncModel  # noqa: E402

mlflow.models.set_model(EIHPyfuncModel())
