"""No altered model directory is ever loaded: not by eihpredict, not by MLflow."""

from __future__ import annotations

import shutil

import mlflow.pyfunc
import pytest

from eihpredict.model_dir import ModelDirectoryError, load_model_dir


def _alter_model(root):
    (root / "artifacts" / "model.joblib").write_bytes(b"not a model")


def _alter_code(root):
    path = root / "code" / "eihpredict" / "_pyfunc.py"
    path.write_text(path.read_text() + "\nRAN = True\n")


def _extra_module(root):
    (root / "code" / "eihpredict" / "sneaky.py").write_text("import os\n")


def _empty_manifest(root):
    (root / "checksums.sha256").write_text("")


def _drop_a_line(root):
    path = root / "checksums.sha256"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line for line in lines if "model.joblib" not in line) + "\n")


def _malformed_line(root):
    path = root / "checksums.sha256"
    path.write_text("not a manifest line\n" + path.read_text())


def _alter_verifier(root):
    path = root / "code" / "eihpredict" / "_manifest.py"
    path.write_text(path.read_text().replace("raise ManifestError(f\"{root}: file", "pass  #"))


CASES = {
    "altered model": (_alter_model, "was altered"),
    "altered code": (_alter_code, "was altered"),
    "extra module": (_extra_module, "not in checksums.sha256"),
    "empty manifest": (_empty_manifest, "is empty"),
    "missing line": (_drop_a_line, "not in checksums.sha256"),
    "malformed line": (_malformed_line, "line 1 is malformed"),
}


@pytest.fixture
def copy(trained, tmp_path):
    root = tmp_path / "model"
    shutil.copytree(trained.model_dir, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.parametrize("case", list(CASES))
def test_altered_directories_are_refused_by_both_loaders(copy, case):
    alter, message = CASES[case]
    alter(copy)
    with pytest.raises(ModelDirectoryError, match=message):
        load_model_dir(copy)
    with pytest.raises(Exception, match=message):
        mlflow.pyfunc.load_model(str(copy))


def test_an_altered_verifier_is_refused_before_it_runs(copy):
    _alter_verifier(copy)
    with pytest.raises(Exception, match="_manifest.py was altered"):
        mlflow.pyfunc.load_model(str(copy))


def test_an_intact_copy_loads_and_mlmodel_holds_no_absolute_paths(copy, trained):
    assert load_model_dir(copy).digest == load_model_dir(trained.model_dir).digest
    mlflow.pyfunc.load_model(str(copy))
    assert str(trained.model_dir.parent) not in (copy / "MLmodel").read_text()
