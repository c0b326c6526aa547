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


# --- the two code-execution attacks of issue 27, run as an attacker would ------------------
# Each plants code that writes a marker file when it runs. The directory's checksums still
# pass on the old verifier; loading must now refuse the directory and run nothing.

_PAYLOAD = """
import pathlib
pathlib.Path({marker!r}).write_text("ran")
exec(compile(pathlib.Path({source!r}).read_text(), {source!r}, "exec"))
"""


def _plant_bytecode(root, marker, *, unchecked_hash: bool):
    """A ``.pyc`` for ``code/eihpredict/__init__.py`` that runs the payload, then the real
    package: a header matching the source's mtime and size, or the unchecked-hash flag."""
    import importlib.util
    import marshal
    import struct
    import sys

    source = root / "code" / "eihpredict" / "__init__.py"
    code = compile(_PAYLOAD.format(marker=str(marker), source=str(source)), str(source),
                   "exec")
    if unchecked_hash:
        header = struct.pack("<I", 0b01) + b"\0" * 8  # hash-based, source never checked
    else:
        st = source.stat()
        header = struct.pack("<III", 0, int(st.st_mtime) & 0xFFFFFFFF,
                             st.st_size & 0xFFFFFFFF)
    cache = source.parent / "__pycache__" / f"__init__.{sys.implementation.cache_tag}.pyc"
    cache.parent.mkdir(exist_ok=True)
    cache.write_bytes(importlib.util.MAGIC_NUMBER + header + marshal.dumps(code))


def _plant_symlinked_package(root, marker, outside):
    """``code/eihpredict/explain`` replaced by a link to a copy outside holding an unlisted
    ``_report/__init__.py``, which shadows the listed ``_report.py``."""
    explain = root / "code" / "eihpredict" / "explain"
    shutil.copytree(explain, outside / "explain")
    package = outside / "explain" / "_report"
    package.mkdir()
    real = outside / "explain" / "_report.py"
    (package / "__init__.py").write_text(_PAYLOAD.format(marker=str(marker),
                                                         source=str(real)))
    shutil.rmtree(explain)
    explain.symlink_to(outside / "explain", target_is_directory=True)


def _load_in_fresh_process(root, tmp_path, rows):
    """``mlflow.pyfunc.load_model`` and one prediction in a new interpreter (nothing of
    eihpredict imported before, so the directory's own code/ is what gets imported)."""
    import os
    import subprocess
    import sys

    script = ("import sys, pandas, mlflow.pyfunc\n"
              "m = mlflow.pyfunc.load_model(sys.argv[1])\n"
              "print(m.predict(pandas.read_csv(sys.argv[2]).head(3))['p_impaired_eih'].notna().sum())\n"
              "import eihpredict; print('LOADED FROM', eihpredict.__file__)\n")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "EIHPREDICT_MODEL_DIGEST"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.run([sys.executable, "-c", script, str(root), str(rows)], cwd=elsewhere,
                          capture_output=True, text=True, timeout=300, env=env)


ATTACKS = {
    "pyc with source-matching header": (
        lambda root, marker, tmp: _plant_bytecode(root, marker, unchecked_hash=False),
        "bytecode cache"),
    "pyc with unchecked-hash flag": (
        lambda root, marker, tmp: _plant_bytecode(root, marker, unchecked_hash=True),
        "bytecode cache"),
    "symlinked folder shadowing _report.py": (
        lambda root, marker, tmp: _plant_symlinked_package(root, marker, tmp),
        "symbolic link"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_planted_code_never_runs_through_pyfunc_in_a_fresh_process(copy, tmp_path, attack,
                                                                   cohort_csv):
    plant, message = ATTACKS[attack]
    marker = tmp_path / "pwned"
    outside = tmp_path / "outside"
    outside.mkdir()
    plant(copy, marker, outside)
    proc = _load_in_fresh_process(copy, tmp_path, cohort_csv)
    assert not marker.exists(), "the planted code ran"
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_planted_code_is_refused_by_the_cli(copy, tmp_path, cohort_csv, attack):
    from typer.testing import CliRunner

    from eihpredict.cli import app

    plant, message = ATTACKS[attack]
    outside = tmp_path / "outside"
    outside.mkdir()
    plant(copy, tmp_path / "pwned", outside)
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(app, ["score", "--model", str(copy), "--input", cohort_csv,
                                      "--output", str(out)])
    assert result.exit_code == 1 and message in result.output, result.output
    assert not out.exists()
    with pytest.raises(ModelDirectoryError, match=message):
        load_model_dir(copy)


def test_an_intact_directory_loads_in_a_fresh_process_from_source_only(copy, tmp_path,
                                                                      cohort_csv, trained):
    saved = trained.model_dir  # saving writes no bytecode cache either
    assert not list(saved.rglob("__pycache__")) and not list(saved.rglob("*.pyc"))
    proc = _load_in_fresh_process(copy, tmp_path, cohort_csv)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("3\n")  # three rows scored
    assert f"LOADED FROM {copy / 'code' / 'eihpredict' / '__init__.py'}" in proc.stdout
    # no bytecode cache was written into the directory, so it still verifies
    assert not list(copy.rglob("__pycache__")) and not list(copy.rglob("*.pyc"))
    load_model_dir(copy)


def test_an_unlisted_empty_folder_is_refused(copy):
    (copy / "code" / "eihpredict" / "_report").mkdir()
    with pytest.raises(ModelDirectoryError, match="folder 'code/eihpredict/_report' is not"):
        load_model_dir(copy)


def test_a_symlinked_listed_file_is_refused(copy, tmp_path):
    card = copy / "model_card.md"
    shutil.copy(card, tmp_path / "card.md")
    card.unlink()
    card.symlink_to(tmp_path / "card.md")
    with pytest.raises(ModelDirectoryError, match="'model_card.md' is a symbolic link"):
        load_model_dir(copy)


# --- eihpredict verify and the digest kept outside the directory --------------------------

def _rewrite_whole(root):
    """An attacker's full rewrite: a file changed and the manifest regenerated."""
    from eihpredict._manifest import write_manifest

    (root / "model_card.md").write_text("rewritten\n")
    (root / "checksums.sha256").unlink()
    write_manifest(root)


def test_verify_reports_the_digest_and_refuses_a_rewritten_directory(copy, trained,
                                                                      cohort_csv, tmp_path):
    from typer.testing import CliRunner

    from eihpredict.cli import app
    from eihpredict.model_dir import check_model_dir

    runner = CliRunner()
    digest = check_model_dir(copy).digest
    assert digest == load_model_dir(trained.model_dir).digest
    ok = runner.invoke(app, ["verify", "--model", str(copy), "--digest", digest.upper()])
    assert ok.exit_code == 0 and "matches the expected value" in ok.output, ok.output
    bare = runner.invoke(app, ["verify", "--model", str(copy)])
    assert bare.exit_code == 0 and f"digest {digest}: not compared" in bare.output
    bad = runner.invoke(app, ["verify", "--model", str(copy), "--digest", "12ab"])
    assert bad.exit_code == 1 and "is not a SHA-256" in bad.output

    _rewrite_whole(copy)
    assert runner.invoke(app, ["verify", "--model", str(copy)]).exit_code == 0  # the limit
    refused = runner.invoke(app, ["verify", "--model", str(copy), "--digest", digest])
    assert refused.exit_code == 1 and f"not the expected {digest}" in refused.output
    out = tmp_path / "s.csv"
    score = runner.invoke(app, ["score", "--model", str(copy), "--input", cohort_csv,
                                "--output", str(out), "--digest", digest])
    assert score.exit_code == 1 and "not the expected" in score.output and not out.exists()
    serve = runner.invoke(app, ["serve", "--model", str(copy), "--digest", digest])
    assert serve.exit_code == 1 and "not the expected" in serve.output


def test_a_configured_digest_is_checked_by_pyfunc_and_the_service(copy, monkeypatch):
    from fastapi.testclient import TestClient

    from eihpredict.serve.app import create_app
    from eihpredict.serve.settings import ServiceSettings

    digest = load_model_dir(copy).digest
    monkeypatch.setenv("EIHPREDICT_MODEL_DIGEST", digest)
    mlflow.pyfunc.load_model(str(copy))  # the right value: loads
    with TestClient(create_app(ServiceSettings(model_dir=copy))) as client:
        assert client.get("/health").status_code == 200
    _rewrite_whole(copy)
    with pytest.raises(Exception, match="not the expected"):
        mlflow.pyfunc.load_model(str(copy))
    with pytest.raises(ModelDirectoryError, match="not the expected"):
        load_model_dir(copy)
    monkeypatch.delenv("EIHPREDICT_MODEL_DIGEST")
    settings = ServiceSettings(model_dir=copy, model_digest=digest)
    with pytest.raises(ModelDirectoryError, match="not the expected"), \
            TestClient(create_app(settings)):
        pass


def test_training_prints_the_digest_and_logs_it_in_the_runs_card(trained):
    from eihpredict.training import format_results

    digest = load_model_dir(trained.model_dir).digest
    assert "(SHA-256 of checksums.sha256;" in format_results(trained)
    assert digest in format_results(trained)
    client = mlflow.MlflowClient(tracking_uri=trained.tracking_uri)
    path = client.download_artifacts(trained.run_id, "model_card.md")
    card = open(path).read()
    assert f"`{digest}`" in card
    assert client.get_run(trained.run_id).data.params["model_dir_sha256"] == digest
    assert "eihpredict verify --model DIR --digest" in (trained.model_dir / "model_card.md"
                                                        ).read_text()
