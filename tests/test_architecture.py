"""The house rules that keep backends plugins (docs/architecture.md): no code outside a backend's own
folder compares, dispatches on or imports a backend by name; each backend registers through the
`rftlab.backends` entry-point group."""

from __future__ import annotations

import ast
from pathlib import Path

from rftlab import plugins

SRC = Path(__file__).resolve().parents[1] / "src" / "rftlab"
BACKENDS = SRC / "backends"


def _names() -> set[str]:
    found = plugins.plugins()
    return set(found) | {old for p in found.values() for old in p.retired_names}


def _core_files() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if BACKENDS not in p.parents]


def _backend_literals(node: ast.AST, names: set[str]) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and n.value in names]


def _decisions_on_backend_names(path: Path, names: set[str], root: Path = SRC) -> list[str]:
    """Comparisons, dict dispatch and match cases that use a backend's name as a literal."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = path.relative_to(root)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_backend_literals(side, names) for side in sides) and "judge" not in ast.unparse(node):
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Dict):
            keys = [k for k in node.keys if isinstance(k, ast.Constant) and k.value in names]
            if keys:
                found.append(f"{where}:{node.lineno}: a dict keyed by backend names")
        elif isinstance(node, ast.match_case) and _backend_literals(node.pattern, names):
            found.append(f"{where}:{node.lineno}: a match case on a backend name")
    return found


def test_every_backend_registers_through_the_entry_point_group():
    found = plugins.plugins()
    assert {"local", "bedrock", "bedrock_open_weight"} <= set(found)
    for name, plugin in found.items():
        assert plugin.name == name and plugin.summary and "hyperparameters" in plugin.params_section().model_fields


def test_no_code_outside_a_backends_folder_decides_on_a_backends_name():
    names = _names()
    found = [hit for path in _core_files() for hit in _decisions_on_backend_names(path, names)]
    assert not found, "backend names decided on outside src/rftlab/backends/:\n" + "\n".join(found)


def test_no_code_outside_the_backends_imports_one():
    found = []
    for path in _core_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [module or ""]
            if any(n.startswith("rftlab.backends.") for n in names):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not found, "imports of a backend outside src/rftlab/backends/ (ask rftlab.plugins):\n" + "\n".join(found)


def test_the_checker_sees_a_backend_decision(tmp_path):
    """The scan above must be able to fail: a file deciding on a backend's name is reported."""
    probe = tmp_path / "probe.py"
    probe.write_text("if job['backend'] == 'local':\n    pass\nx = {'bedrock': 1}.get(name)\n"
                     "if relevance.judge == 'bedrock':\n    pass\n", encoding="utf-8")
    assert len(_decisions_on_backend_names(probe, _names(), root=tmp_path)) == 2


# ---------------------------------------------------------------------------- layers, imports, stages
def test_the_layers_and_the_absence_of_import_circles_hold():
    """import-linter's contracts in pyproject.toml: layers from the CLI down, no circles, backends apart."""
    import subprocess
    import sys

    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--config", str(SRC.parents[1] / "pyproject.toml")], cwd=SRC.parents[1],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def _enclosing_function(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            up = parents.get(node)
            while up is not None and not isinstance(up, ast.FunctionDef | ast.AsyncFunctionDef):
                up = parents.get(up)
            if up is not None:
                found[node] = up
    return found


def deferred_imports_without_a_reason(path: Path) -> list[str]:
    """Imports inside functions with no comment on their lines or right above their block of imports.
    Command modules state their reason once (the CLI's start-up time) and are exempt."""
    if path.name in ("commands.py", "cli.py"):
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    missing = []
    for node in _enclosing_function(ast.parse(text)):
        if any("#" in line for line in lines[node.lineno - 1:node.end_lineno]):
            continue
        i = node.lineno - 2
        while i >= 0 and (not lines[i].strip() or lines[i].strip().startswith(("import ", "from "))) \
                and "#" not in lines[i]:
            i -= 1
        if i >= 0 and "#" in lines[i] and lines[i].strip().startswith(("#", "import ", "from ")):
            continue
        missing.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return missing


def test_every_deferred_import_says_why():
    found = [hit for path in sorted(SRC.rglob("*.py")) for hit in deferred_imports_without_a_reason(path)]
    assert not found, "imports inside functions without a reason next to them:\n" + "\n".join(found)


def test_the_reason_check_can_fail(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    import json\n    return json\n\n\ndef g():\n    import csv  # only when g runs\n",
                     encoding="utf-8")
    assert deferred_imports_without_a_reason(probe) == ["probe.py:2: import json"]


STAGE_FUNCTIONS = ("compute", "gate", "write_outputs", "run")


def test_every_dvc_stage_runs_a_stage_module_of_the_same_shape():
    """Each stage in dvc.yaml has its `<stage>_stage.py`, with compute, gate, write_outputs and run."""
    import yaml

    stages = yaml.safe_load((SRC.parents[1] / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    modules = {p.stem.removesuffix("_stage"): p for p in SRC.rglob("*_stage.py")}
    assert set(stages) <= set(modules), f"stages without a module: {sorted(set(stages) - set(modules))}"
    for name in stages:
        defined = {n.name for n in ast.parse(modules[name].read_text(encoding="utf-8")).body
                   if isinstance(n, ast.FunctionDef)}
        assert set(STAGE_FUNCTIONS) <= defined, f"{modules[name].relative_to(SRC)}: missing " \
                                                f"{sorted(set(STAGE_FUNCTIONS) - defined)}"


def test_no_function_is_over_60_lines_without_a_reason():
    """A function longer than 60 lines says why in its docstring (a line starting `Long:`)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 60:
                if "Long:" not in (ast.get_docstring(node) or ""):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    assert not found, "long functions without a reason:\n" + "\n".join(found)


def test_no_file_imports_another_packages_private_name():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        package = path.relative_to(SRC).parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rftlab."):
                other = node.module.split(".")[1]
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private and other != package:
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.module} {private}")
    assert not found, "private names imported across packages:\n" + "\n".join(found)
