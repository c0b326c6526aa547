"""The README and docs/ keep working as written: their Python blocks run, their shell
blocks' ``eihpredict`` lines parse against the real command line, their mapping
examples load, their links (and the sections they name) resolve, they point at nothing
outside the repository, and their generated tables (the configuration keys, the floors)
equal what the code and the architecture test define.

A Python block that is not meant to run here carries the line
``<!-- docs-test: skip (reason) -->`` right before its fence; the reason is required.
The blocks of one page run in order in one namespace, from a scratch directory holding
a copy of ``pipelines/`` (the README's examples run from the repository root).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from eihpredict.mapping import StudyMapping

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SKIP = re.compile(r"<!-- docs-test: skip \((.+)\) -->\s*$")


def blocks(page: Path, language: str) -> list[tuple[int, str, str | None]]:
    """(line, code, skip reason) of every fenced block in ``language``."""
    text = page.read_text(encoding="utf-8")
    out = []
    for match in FENCE.finditer(text):
        if match.group(1) != language:
            continue
        line = text.count("\n", 0, match.start()) + 1
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.match(before)
        out.append((line, match.group(2), skip.group(1).strip() if skip else None))
    return out


PYTHON_PAGES = [p for p in PAGES if any(skip is None for _, _, skip in blocks(p, "python"))]


def test_skipped_python_blocks_say_why():
    skipped = [(p.name, line, skip) for p in PAGES for line, _, skip in blocks(p, "python")
               if skip is not None]
    for name, line, reason in skipped:
        assert len(reason) > 10, f"{name}:{line}: say why the block is skipped"


def test_pages_with_python_blocks_are_found():
    assert {p.name for p in PYTHON_PAGES} >= {"README.md", "mapping.md", "input-files.md"}


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=[p.name for p in PYTHON_PAGES])
def test_python_blocks_run_as_written(page, tmp_path, monkeypatch):
    shutil.copytree(ROOT / "pipelines", tmp_path / "pipelines")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    ran = 0
    for line, code, skip in blocks(page, "python"):
        if skip is not None:
            assert len(skip) > 10, f"{page.name}:{line}: say why the block is skipped"
            continue
        try:
            exec(compile(code, f"{page.name}:{line}", "exec"), namespace)  # noqa: S102
        except Exception as exc:  # name the page and line of the failing block
            raise AssertionError(f"{page.name}, block at line {line}: {exc!r}") from exc
        ran += 1
    assert ran


def test_mapping_examples_in_the_docs_load():
    examples = [code for page in PAGES for _, code, _ in blocks(page, "yaml")
                if code.lstrip().startswith("format:")]
    assert examples
    for code in examples:
        mapping = StudyMapping.from_dict(yaml.safe_load(code))
        assert mapping.contract_columns


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_links_resolve_inside_the_repository(page):
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)", text):
        if re.match(r"[a-z]+://", target):
            continue
        assert (page.parent / target).exists(), f"{page.name}: broken link {target}"
    for outside in ("/work/", "shared/CONTRACT", "shared/DOMAIN", "CONTRACT.md", "DOMAIN.md"):
        assert outside not in text, f"{page.name} points outside the repository: {outside}"


def _commands(code: str) -> list[list[str]]:
    """The ``eihpredict ...`` command lines of a shell block (continuations joined,
    comments dropped), split as a shell would."""
    import shlex

    joined = re.sub(r"\\\n\s*", " ", code)
    out = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["eihpredict"]:
            out.append(words[1:])
    return out


SHELL_COMMANDS = [(page.name, line, words) for page in PAGES
                  for line, code, _ in blocks(page, "bash") for words in _commands(code)]


def test_shell_blocks_are_found():
    assert len(SHELL_COMMANDS) >= 15


@pytest.mark.parametrize(("page", "line", "words"), SHELL_COMMANDS,
                         ids=[f"{p}:{n}:{w[0] if w else ''}" for p, n, w in SHELL_COMMANDS])
def test_shell_commands_name_real_commands_and_options(page, line, words):
    """Every ``eihpredict`` line of a shell block parses against the real command line:
    the command exists and every option it uses is one of that command's (the commands
    themselves run in the demo, the CLI tests and notebook 04)."""
    import typer.core
    import typer.main

    from eihpredict.cli import app

    group = typer.main.get_command(app)
    if words in (["--version"], ["--help"]):
        return
    command = group.commands.get(words[0])  # type: ignore[attr-defined]
    assert command is not None, f"{page}:{line}: no command {words[0]!r}"
    known = {opt for param in command.params if isinstance(param, typer.core.TyperOption)
             for opt in (*param.opts, *param.secondary_opts)} | {"--help"}
    used = [w.split("=", 1)[0] for w in words[1:] if w.startswith("--")]
    unknown = [w for w in used if w not in known]
    assert not unknown, f"{page}:{line}: eihpredict {words[0]} has no option {unknown}"
    context = command.make_context(words[0], list(words[1:]), resilient_parsing=False)
    assert context.params is not None


def _generated(page: Path) -> str:
    """The text between a page's ``<!-- generated: ... -->`` and ``<!-- end generated -->``."""
    text = page.read_text(encoding="utf-8")
    match = re.search(r"<!-- generated: [^>]*-->\n(.*?)<!-- end generated -->", text, re.S)
    assert match, f"{page.name}: no generated section"
    return match.group(1)


def test_configuration_page_lists_every_key_as_the_code_defines_it():
    """docs/configuration.md's key table is what ``config_reference()`` writes from the
    pydantic models: a key added, removed, renamed or re-described shows here."""
    from eihpredict.config import PipelineConfig, config_reference

    table = _generated(ROOT / "docs" / "configuration.md")
    assert table == config_reference(), (
        "docs/configuration.md is stale: paste config_reference() between its markers")
    keys = {row.split("`")[1] for row in table.splitlines()[2:]}
    for field in PipelineConfig.model_fields:  # a section shows through its own keys
        assert any(re.match(rf"{field}(\[\])?(\.|$)", key) for key in keys), field
    assert {"label.rule", "tuning.n_trials", "models[].search_space.<param>.type"} <= keys


def _architecture_layers() -> dict[int, list[str]]:
    import ast

    tree = ast.parse((ROOT / "tests" / "test_architecture.py").read_text(encoding="utf-8"))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "LAYERS" for t in targets):
            return ast.literal_eval(node.value)
    raise AssertionError("tests/test_architecture.py defines no LAYERS")


def test_floor_table_is_the_architecture_tests_layers():
    """The floor table of docs/architecture.md names, floor by floor, exactly the modules
    that tests/test_architecture.py's LAYERS puts there (a package with a trailing /)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    documented = {}
    for row in re.findall(r"^\| (\d) [a-z]+ \| ([^|]+) \|", text, re.M):
        documented[int(row[0])] = sorted(m.rstrip("/") for m in re.findall(r"`([^`]+)`", row[1]))
    layers = _architecture_layers()
    assert documented == {floor: sorted(names) for floor, names in layers.items()}
    for names in layers.values():
        for name in names:
            package = (ROOT / "eihpredict" / name).is_dir()
            assert f"`{name}{'/' if package else ''}`" in text, (
                f"docs/architecture.md: write {name!r} as `{name}{'/' if package else ''}`")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings (lower case, punctuation dropped, spaces to -)."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_section_links_name_a_heading(page):
    """A link to ``page.md#section`` (or ``#section`` on the same page) names a heading
    that exists, so moving a section cannot leave a dead link behind."""
    text = page.read_text(encoding="utf-8")
    for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text):
        linked = (page.parent / target) if target else page
        if linked.suffix != ".md":
            continue
        assert anchor in _anchors(linked), f"{page.name}: no section #{anchor} in {linked.name}"
