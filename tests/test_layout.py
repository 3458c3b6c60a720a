"""The package layout holds: the daemon (`sync`) and the sandbox beside it import no module in a circle,
and the daemon never imports the sandbox except lazily, in the two CLI commands that start it.

The import graph is read from the source with `ast`, not by importing. An edge is a module-level import
(in the module body, including under `if TYPE_CHECKING:`, `try:` and class bodies, not inside functions):
`import a.b` and `from a import b` point at the module `a.b` when it exists, else at the package `a`.
A cycle hidden behind `if TYPE_CHECKING:` still counts: it is a circle in the design all the same. The
import of a submodule's parent packages is implicit in Python and is not an edge.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sync", "sandbox")
# sync may reach the sandbox only from these functions of sync.cli, and only by a lazy import there.
SANDBOX_ENTRY_POINTS = {"_cmd_sandbox", "_cmd_demo"}


def module_files() -> dict[str, Path]:
    """Dotted module name → source file, for every module of the packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _base(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an `ImportFrom` names, resolving relative imports."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def imported_modules(node: ast.Import | ast.ImportFrom, module: str, path: Path, known: set[str]) -> set[str]:
    """The modules one import statement depends on (any module name, known or not)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = _base(module, path, node)
    return {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}


def module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Import statements that run when the module is imported: everywhere but inside functions."""
    found, pending = [], list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            pending.extend(ast.iter_child_nodes(node))
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → the modules of `sync` and `sandbox` it imports at module level."""
    files = module_files()
    known = set(files)
    graph = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = set()
        for node in module_level_imports(tree):
            targets |= imported_modules(node, module, path, known)
        graph[module] = {target for target in targets if target in known and target != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, …, a], or None when the graph has none."""
    state: dict[str, str] = {}  # "active" while on the DFS stack, "done" after
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "active"
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "active":
                return [*stack[stack.index(target):], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_graph_sees_both_packages_and_their_imports() -> None:
    graph = import_graph()
    assert "sync.cli" in graph and "sandbox.http.app" in graph
    assert "sandbox.http.wire" in graph["sandbox.http.router"]  # from sandbox.http.wire import …
    assert "sandbox.jira.issue_api" in graph["sandbox.http.app"]  # from sandbox.jira import issue_api


def test_find_cycle_names_the_modules_in_order() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_sync_imports_no_sandbox_module_at_module_level() -> None:
    graph = import_graph()
    offenders = {module: sorted(t for t in targets if t.split(".")[0] == "sandbox")
                 for module, targets in graph.items() if module.split(".")[0] == "sync"}
    assert not {module: found for module, found in offenders.items() if found}


def imports_by_scope(node: ast.AST, scope: str = "<module>") -> list[tuple[str, ast.Import | ast.ImportFrom]]:
    """Every import statement with the innermost function it sits in ("<module>" outside functions)."""
    found = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            found.append((scope, child))
        inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else scope
        found += imports_by_scope(child, inner)
    return found


def test_sync_reaches_the_sandbox_only_from_the_sandbox_and_demo_commands() -> None:
    files = module_files()
    places = set()
    for module, path in files.items():
        if module.split(".")[0] != "sync":
            continue
        for scope, node in imports_by_scope(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if any(target.split(".")[0] == "sandbox" for target in imported_modules(node, module, path, set(files))):
                places.add((module, scope))
    assert places == {("sync.cli", name) for name in SANDBOX_ENTRY_POINTS}


def test_the_sandbox_reaches_the_daemon_only_from_the_demo() -> None:
    """The stand-in never leans on the code it stands in for; the demo is where the two meet."""
    files = module_files()
    places = set()
    for module, path in files.items():
        if module.split(".")[0] != "sandbox":
            continue
        for _scope, node in imports_by_scope(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if any(target.split(".")[0] == "sync" for target in imported_modules(node, module, path, set(files))):
                places.add(module)
    assert places == {"sandbox.demo"}


def test_importing_the_daemon_imports_no_sandbox_module() -> None:
    modules = sorted(m for m in module_files() if m.split(".")[0] == "sync" and not m.endswith(".__main__"))
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'sandbox' or m.startswith('sandbox.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- sizes: modules a reader can hold in their head ------------------------------------------------

MAX_MODULE_LINES = 300  # lines of code: not blank, not only a comment (docstrings count)
MAX_FUNCTION_LINES = 40  # from `def` to the function's last line, docstring included


def code_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


def long_functions(path: Path) -> list[tuple[str, int]]:
    """(qualified name, lines) of every function in the module longer than MAX_FUNCTION_LINES."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = f"{prefix}{getattr(child, 'name', '')}"
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append((name, length))
            visit(child, f"{name}." if isinstance(child, ast.ClassDef | ast.FunctionDef) else prefix)

    visit(ast.parse(path.read_text(encoding="utf-8")), "")
    return found


def test_no_daemon_module_is_over_the_size_limit() -> None:
    sizes = {name: code_lines(path.read_text(encoding="utf-8")) for name, path in module_files().items()
             if name.split(".")[0] == "sync"}
    assert len(sizes) > 20, sizes
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_no_daemon_function_is_over_the_size_limit() -> None:
    found = {name: long_functions(path) for name, path in module_files().items() if name.split(".")[0] == "sync"}
    assert {name: functions for name, functions in found.items() if functions} == {}


def test_the_size_checks_can_fail(tmp_path: Path) -> None:
    long = tmp_path / "long.py"
    body = "    x = 1\n" * MAX_FUNCTION_LINES
    long.write_text("def f():\n" + body + "\n\nclass C:\n    def g(self):\n        pass\n")
    assert long_functions(long) == [("f", MAX_FUNCTION_LINES + 1)]
    assert code_lines("# a comment\n\nx = 1\n'''doc'''\n") == 2
