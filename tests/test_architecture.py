"""The seams between domains that import-linter cannot see.

import-linter (pyproject.toml) keeps each domain's models and service private to it, so
other domains go through ``<domain>/public.py``. Two rules need the syntax tree:

* nothing imports a ClinicDesk module inside a function (a hidden cycle that the layering
  contract cannot see: reactions between domains go through signals);
* a public face hands out read types (``Patient``, ``Location``, ``Provider`` ...) to hold
  and show, never to query: no module of another domain builds a query on them.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

import pytest

import clinicdesk

PACKAGE = Path(clinicdesk.__file__).parent
QUERY_BUILDERS = {"select", "update", "delete", "insert", "get", "aliased", "join", "outerjoin"}


def domains() -> list[str]:
    return sorted(p.parent.name for p in PACKAGE.glob("*/public.py"))


def modules_of(domain: str) -> list[Path]:
    return sorted((PACKAGE / domain).rglob("*.py"))


def domain_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) > 1 and parts[0] == "clinicdesk" and parts[1] in domains():
        return parts[1]
    return None


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(PACKAGE.parent)}:{self.line}: {self.what}"


def imports_inside_functions(path: Path) -> list[Finding]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom):
                module = inner.module or ""
            elif isinstance(inner, ast.Import):
                module = inner.names[0].name
            else:
                continue
            if module.startswith("clinicdesk"):
                found.append(Finding(path, inner.lineno, f"imports {module} inside a function"))
    return found


def foreign_tables(path: Path, own: str) -> dict[str, set[str]]:
    """Names this module imported from another domain that are mapped classes, with the
    names of their columns."""
    tables: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        other = domain_of(node.module)
        if other is None or other == own:
            continue
        source = importlib.import_module(node.module)
        for alias in node.names:
            value = getattr(source, alias.name, None)
            table = getattr(value, "__table__", None)
            if isinstance(value, type) and table is not None:
                tables[alias.asname or alias.name] = {c.key for c in table.columns}
    return tables


def queries_on_foreign_tables(path: Path, own: str) -> list[Finding]:
    tables = foreign_tables(path, own)
    if not tables:
        return []
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        # Location.is_active, Patient.id ... : a column expression, the start of a query.
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in tables
            and node.attr in tables[node.value.id]
        ):
            found.append(Finding(path, node.lineno, f"queries {node.value.id}.{node.attr}"))
        # select(Patient), session.get(Location, ...)
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name in QUERY_BUILDERS and any(
                isinstance(arg, ast.Name) and arg.id in tables for arg in node.args
            ):
                found.append(Finding(path, node.lineno, f"{name}() on another domain's table"))
    return found


def test_every_domain_has_a_public_face() -> None:
    assert {"audit", "identity", "patients", "scheduling", "queue"} <= set(domains())
    for domain in domains():
        face = importlib.import_module(f"clinicdesk.{domain}.public")
        assert face.__doc__, f"{domain}/public.py says what other domains may use"
        missing = [name for name in face.__all__ if not hasattr(face, name)]
        assert not missing, f"{domain}.public.__all__ names what it lacks: {missing}"


def test_nothing_imports_clinicdesk_inside_a_function() -> None:
    found = [f for path in sorted(PACKAGE.rglob("*.py")) for f in imports_inside_functions(path)]
    assert not found, "\n".join(map(str, found))


@pytest.mark.parametrize("domain", domains())
def test_no_domain_queries_another_domains_tables(domain: str) -> None:
    found = [f for path in modules_of(domain) for f in queries_on_foreign_tables(path, domain)]
    assert not found, "\n".join(map(str, found))


def test_the_query_check_catches_a_query_on_a_foreign_table(tmp_path: Path) -> None:
    """The rule above can fail: a module that selects another domain's table is found."""
    module = tmp_path / "probe.py"
    module.write_text(
        "from sqlalchemy import select\n"
        "from clinicdesk.identity.public import Location\n"
        "def active():\n"
        "    from clinicdesk.patients.public import Patient\n"
        "    return select(Location).where(Location.is_active), Patient\n"
    )
    queries = queries_on_foreign_tables(module, "queue")
    imports = imports_inside_functions(module)
    assert sorted(f.what for f in queries) == [
        "queries Location.is_active",
        "select() on another domain's table",
    ]
    assert [f.what for f in imports] == ["imports clinicdesk.patients.public inside a function"]
