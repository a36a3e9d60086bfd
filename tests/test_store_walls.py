"""The store's walls, read from the code: one package without import cycles, a leaf schema, and
a controller and web server that know no backend."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "recipe_runner"
STORE = PACKAGE / "db"
# The modules that know a backend or a database library; only the store itself imports them.
BACKENDS = {
    "recipe_runner.db.sqlite_fast",
    "recipe_runner.db.postgres",
    "recipe_runner.db.database",
    "recipe_runner.db.claims",
    "recipe_runner.db.migrations",
    "recipe_runner.db.outages",
    "recipe_runner.db.routes",
}
LIBRARIES = {"sqlite3", "sqlalchemy", "psycopg"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code, as absolute names (`from .x
    import y` gives both `...x` and `...x.y`, since `y` may be a module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def store_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in STORE.glob("*.py")}
    return {name: imports(path) & set(modules) for name, path in modules.items()}


def test_the_store_has_no_import_cycle() -> None:
    graph = store_graph()
    assert len(graph) >= 8  # the package is found
    graph = {name: deps - {"recipe_runner.db"} for name, deps in graph.items()}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in path, f"import cycle: {' -> '.join([*path, name])}"
        if name in done:
            return
        for dep in graph[name]:
            visit(dep, [*path, name])
        done.add(name)

    for name in graph:
        visit(name, [])


def test_the_schema_is_a_leaf() -> None:
    graph = store_graph()
    assert graph["recipe_runner.db.schema"] <= {"recipe_runner.db.encoding"}
    assert graph["recipe_runner.db.encoding"] == set()
    # Nothing in the store is imported by the package's front door's modules below it.
    for name, deps in graph.items():
        if name != "recipe_runner.db":
            assert "recipe_runner.db" not in deps, f"{name} imports the package's front door"


def test_the_controller_and_server_know_no_backend() -> None:
    for module in ("controller.py", "server.py", "serve.py", "headless.py"):
        found = imports(PACKAGE / module)
        assert not found & BACKENDS, f"{module} imports {found & BACKENDS}"
        libraries = {name.split(".")[0] for name in found} & LIBRARIES
        assert not libraries, f"{module} imports {libraries}"
    source = (PACKAGE / "controller.py").read_text(encoding="utf-8")
    for name in ("DatabaseClaims", "MemoryClaims", "sqlite_version", "is_sqlite"):
        assert name not in source, f"the controller names {name}"
