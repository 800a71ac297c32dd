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
