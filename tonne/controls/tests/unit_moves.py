"""Every service function that moves units, found from the code (for
test_every_move_gated.py).

The service layer is every module of every app except what only reads or
serves (api, views, selectors, models, admin, middleware, commands,
migrations, tests) and the top apps that only call services (portal,
workspace, api, ops). A function *moves units* when its body reaches one of
the three ways units are changed, directly or through functions of the
service layer it calls (a fixed point over the call graph, names resolved
through each module's imports):

1. the unit store, `tonne.units.store.run`: every move of units held in an
   account (transfer, retirement, use, cancellation, reversal, export) is
   written there, and only there;
2. a write to the `UnitBlock` model (create, update, delete…): issuance and
   units received from another registry create blocks;
3. raw SQL that inserts, updates or deletes `units_unitblock` rows, or a
   ledger entry of a units kind (`append_entry(kind="units.…")`).

Its *entry points* are the public functions among them that something
outside the service layer calls (the API, pages, commands, the worker, the
wiring's handler tables), or that no other function that moves units calls.
The functions only ever called from inside another move (the store's own
helpers, `request_move`, `settle_waiting`, `receive_units`, `issue_units`)
are proven through their callers."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the tonne package
TOP_APPS = {"portal", "workspace", "api", "ops"}
NOT_SERVICES = {"api", "api_auth", "views", "selectors", "models", "admin", "apps", "urls", "forms", "middleware",
                "conftest", "testing", "signals"}
STORE_RUN = "tonne.units.store.run"
BLOCK_WRITES = {"create", "bulk_create", "update", "delete", "get_or_create", "update_or_create", "bulk_update"}
BLOCK_SQL = re.compile(r"(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?units_unitblock\b", re.IGNORECASE)


def _is_service(rel: Path) -> bool:
    parts = rel.parts
    if parts[0] in TOP_APPS or {"tests", "migrations", "management"} & set(parts) or len(parts) < 2:
        return False
    return not (rel.stem in NOT_SERVICES or rel.stem.startswith("views") or rel.stem.endswith("_api"))


def _modules(service: bool) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if "tests" in rel.parts or "migrations" in rel.parts or _is_service(rel) != service:
            continue
        yield "tonne." + ".".join(rel.with_suffix("").parts), ast.parse(path.read_text(), filename=str(path))


def _imports(module: str, tree: ast.Module) -> dict[str, str]:
    """Local name -> what it names, from the module's imports (at any depth)."""
    names: dict[str, str] = {}
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.asname and alias.name or alias.name.split(".")[0]
    return names


def _dotted(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Call):  # UnitBlock.objects.filter(...).update()
        return _dotted(node.func)
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


@dataclass
class Function:
    name: str  # tonne.app.module.function
    calls: set[str] = field(default_factory=set)
    sinks: set[str] = field(default_factory=set)


def _function(module: str, names: dict[str, str], local: set[str], fn: ast.FunctionDef) -> Function:
    found = Function(f"{module}.{fn.name}")
    for node in ast.walk(fn):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and BLOCK_SQL.search(node.value):
            found.sinks.add("SQL writing units_unitblock")
        if not isinstance(node, ast.Call):
            continue
        for argument in [*node.args, *(k.value for k in node.keywords)]:  # a function handed on (store.run(lambda …: _move…))
            if isinstance(argument, ast.Name) and argument.id in local:
                found.calls.add(f"{module}.{argument.id}")
        path = _dotted(node.func)
        if not path:
            continue
        head, rest = path[0], path[1:]
        target = f"{module}.{head}" if head in local else names.get(head, "")
        if not target:
            continue
        full = ".".join([target, *rest])
        if full == STORE_RUN:
            found.sinks.add(STORE_RUN)
        if target.endswith("models.UnitBlock") and rest and rest[-1] in BLOCK_WRITES:
            found.sinks.add(f"UnitBlock.{rest[-1]}")
        if full.endswith(("ledger.services.append_entry", "ledger.services.append")):
            kind = next((k.value for k in node.keywords if k.arg == "kind"), None)
            if isinstance(kind, ast.Constant) and str(kind.value).startswith("units."):
                found.sinks.add(f"ledger entry {kind.value}")
        found.calls.add(full)
    return found


def service_functions() -> dict[str, Function]:
    functions: dict[str, Function] = {}
    for module, tree in _modules(service=True):
        names = _imports(module, tree)
        local = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                fn = _function(module, names, local, node)
                functions[fn.name] = fn
            elif isinstance(node, ast.ClassDef):  # methods, e.g. the store's
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        fn = _function(module, names, local, item)
                        fn.name = f"{module}.{node.name}.{item.name}"
                        functions[fn.name] = fn
    return functions


def moving(functions: dict[str, Function]) -> dict[str, str]:
    """Every function that moves units -> why (its sink, or the call that reaches one)."""
    why = {name: sorted(fn.sinks)[0] for name, fn in functions.items() if fn.sinks}
    changed = True
    while changed:
        changed = False
        for name, fn in functions.items():
            if name in why:
                continue
            reached = sorted(c for c in fn.calls if c in why)
            if reached:
                why[name] = f"calls {reached[0]}"
                changed = True
    return why


def referenced_outside() -> set[str]:
    """Every name the rest of the registry (API, pages, commands, wiring…) uses."""
    used: set[str] = set()
    for _module, tree in _modules(service=False):
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                used.add(node.attr)
            elif isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.ImportFrom):
                used.update(alias.name for alias in node.names)
    return used


def entry_points() -> dict[str, str]:
    functions = service_functions()
    why = moving(functions)
    # The demo's loaders are scripts of `tonne demo`, not services: they must
    # reach units only through entry points proven here (checked below).
    demo = {name for name in why if ".demo_data." in name}
    called_by_moves = {c for name in why for c in functions[name].calls}
    outside = referenced_outside()
    entries = {}
    for name, reason in why.items():
        short = name.rsplit(".", 1)[1]
        if short.startswith("_") or ".store." in name or name in demo:
            continue  # private, the store itself, or the demo's script: proven through their callers
        if short in outside or name not in called_by_moves:
            entries[name] = reason
    for name in demo:
        for call in functions[name].calls & set(why):
            assert call in demo or call in entries, f"the demo loader {name} moves units through {call}, no entry point"
    return entries


if __name__ == "__main__":
    for name, reason in sorted(moving(service_functions()).items()):
        print("MOVES", name, "--", reason)
    for name, reason in sorted(entry_points().items()):
        print("ENTRY", name, "--", reason)
