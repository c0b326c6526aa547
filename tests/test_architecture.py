"""The house has floors: nothing imports upward, and one interpreter reads fitted models.

Layers (lowest first); a module may import its own floor or lower ones, never higher,
at module level or inside a function:

0. foundation: the contract and generic helpers
1. data: reading, validating, simulating, labelling cohort tables; configs; features
2. library: modeling (the fitted-model protocol), explanations, model directory,
   tracking, model card
3. application: training, scoring engine, the biomarker report
4. interfaces: command line, service, MLflow pyfunc entry, demo, the lazy public API
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "eihpredict"

LAYERS = {
    0: ["schema", "instruments", "fileio", "_progress", "_manifest"],
    1: ["cohort_io", "validation", "simulate", "labels", "outcome", "harmonize", "mapping",
        "_draft", "sessions", "features"],
    # the pipeline config checks candidates and metrics against the registries of
    # modeling (tasks, model families); the readiness check reads configs
    2: ["modeling", "config", "readiness", "explain", "model_dir", "tracking", "model_card"],
    3: ["training", "scoring", "evaluation", "prescribe"],
    4: ["cli", "serve", "_pyfunc", "_pyfunc_entry", "demo", "__init__"],
}


def _layer(module: str) -> int:
    """Floor of a dotted module name below ``eihpredict`` (longest prefix wins)."""
    best, found = -1, None
    for floor, names in LAYERS.items():
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, found = len(name), floor
    if found is None:
        raise AssertionError(f"eihpredict.{module} has no floor in tests/test_architecture.py")
    return found


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        yield ".".join(parts), path


def _imports(module: str, path: Path):
    """Every eihpredict module imported (module level or in a function), with its line."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.startswith("eihpredict"):
                target = node.module.removeprefix("eihpredict").lstrip(".")
            else:
                continue
            names = [a.name for a in node.names]
            for name in names:  # "from . import x" imports the submodule x
                full = f"{target}.{name}" if target else name
                yield (full if (ROOT / Path(*full.split("."))).with_suffix(".py").exists()
                       or (ROOT / Path(*full.split("."))).is_dir() else target), node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("eihpredict."):
                    yield alias.name.removeprefix("eihpredict."), node.lineno


@pytest.mark.parametrize(("module", "path"), list(_modules()), ids=lambda v: str(v))
def test_no_upward_import(module, path):
    if module == "__init__":  # the lazy public API sits on top
        return
    own = _layer(module)
    for target, line in _imports(module, path):
        if not target or target == module or target.startswith(module + "."):
            continue
        assert _layer(target) <= own, (
            f"eihpredict/{path.relative_to(ROOT)}:{line} imports eihpredict.{target} "
            f"(floor {_layer(target)}) from floor {own}")


def test_no_private_module_is_imported_across_packages():
    for module, path in _modules():
        package = module.split(".")[0]
        for target, line in _imports(module, path):
            parts = target.split(".")
            private = [p for p in parts[1:] if p.startswith("_")]
            if private and parts[0] != package and target != "_pyfunc":
                raise AssertionError(f"eihpredict/{path.relative_to(ROOT)}:{line} imports "
                                     f"the private eihpredict.{target}")


# The protocol's implementations; the calibrator reads its own one-variable fit.
# An estimator of the linear family defines and reads its own coefficients.
ALLOWED = {"modeling/_protocol.py", "modeling/_model.py", "modeling/_calibration.py",
           "modeling/_estimators.py"}


def test_one_interpreter_no_kind_dispatch_or_fitted_internals():
    """Only the protocol's implementations look inside a fitted pipeline."""
    pattern = re.compile(r"\bkind\s*[!=]=|named_steps\[|\.steps\b|steps\[|\.booster_\b|"
                         r"\.coef_\b|\.intercept_\b")
    offenders = _lines_matching(pattern, allowed=ALLOWED)
    assert not offenders, "\n".join(offenders)


def _lines_matching(pattern: re.Pattern, *, allowed: set[str]) -> list[str]:
    """``file:line: text`` of every package line matching ``pattern``, outside
    ``allowed`` files."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in allowed:
            continue
        for i, line in enumerate(path.read_text().splitlines(), start=1):
            if pattern.search(line):
                found.append(f"eihpredict/{rel}:{i}: {line.strip()}")
    return found


#: A comparison of a task's name (``task == "continuous"``, ``task in ("binary", ...)``).
TASK_NAME_COMPARISON = re.compile(
    r"""\btask\)?\s*[!=]=|[!=]=\s*["'](binary|continuous|three_class)["']|"""
    r"""\btask\s+(not\s+)?in\s*[\(\[{]""")

#: Where a task's name may be compared: the task objects themselves, and the label rule
#: (a rule named ``continuous`` or ``three_class`` chooses the task).
TASK_NAME_ALLOWED = {"modeling/_tasks.py", "labels.py", "config.py", "simulate.py"}


def test_no_task_name_comparison_outside_the_task_objects():
    """Callers ask the task (:func:`eihpredict.modeling.get_task`), never compare its
    name: a new task is one class, not a hunt for branches."""
    offenders = _lines_matching(TASK_NAME_COMPARISON, allowed=TASK_NAME_ALLOWED)
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize(("line", "caught"), [
    ('if model.task == "three_class":', True),
    ('if config.task != "continuous" and x:', True),
    ('kind = {"binary": 1}[task] if get_task(meta.get("task")) == "binary" else 0', True),
    ('if task in ("binary", "three_class"):', True),
    ("task = get_task(config.task)", False),
    ("if task.estimator_role == 'regressor':", False),
])
def test_the_task_name_rule_catches_what_it_should(line, caught):
    assert bool(TASK_NAME_COMPARISON.search(line)) is caught
