"""The package's shape: one folder per pipeline stage, no import cycle between modules, stage folders that only
describe themselves (no re-export shims), and every `rag.` import names a module that exists.

Example: rag/answer/engine.py imports rag.search.evidence; rag/search/evidence.py importing rag.answer.engine back
would be a cycle, and test_no_import_cycle names it: "rag.answer.engine -> rag.search.evidence -> rag.answer.engine".
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rag"
STAGES = ("read", "indexing", "search", "generate", "answer", "draft", "ui")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path, known: dict[str, Path]) -> set[str]:
    """The rag modules a file imports, at its top or inside a function (a lazy import is still a dependency)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "rag"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == "rag":
            for alias in node.names:  # `from rag import config` imports the module rag.config
                found.add(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(path, known) - {name} for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each cycle found by depth-first search, as the path that closes it: [a, b, a]."""
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    found = cycles(graph())
    assert not found, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in found)


def test_every_rag_import_names_a_module():
    known = modules()
    missing = {(name, target) for name, targets in graph().items() for target in targets if target not in known}
    assert not missing, f"imports of modules that do not exist: {sorted(missing)}"


@pytest.mark.parametrize("stage", STAGES)
def test_stage_folder_says_what_goes_in_and_out_and_holds_no_code(stage):
    init = PACKAGE / stage / "__init__.py"
    tree = ast.parse(init.read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    assert doc, f"{init} needs a docstring saying what goes in and what comes out"
    code = [node for node in tree.body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    assert not code, f"{init} holds code; a stage folder's __init__ only describes it (no re-exports)"
    importlib.import_module(f"rag.{stage}")


def test_top_level_holds_only_the_shared_modules():
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "config.py", "errors.py", "pipeline.py", "text.py"]
