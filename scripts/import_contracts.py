"""Import contracts of vmscale, checked on the source by ``make lint`` (no import is executed).

Three rules, each about what a module may import:

``independent-services``
    A service never imports another one: ``services.<x>`` imports, of our own packages, only
    ``shared.*`` and ``services.<x>.*`` (never ``services.<y>``, ``lab`` or ``cli``); and
    ``shared``, which every service imports, imports none of ``services``, ``lab`` or ``cli`` (so
    no service reaches another through it).
``pure-domain``
    A domain (``services/*/domain/**``) does no I/O and knows no wire format: it imports no I/O
    library (asyncio, httpx, nats, faststream, redis, sqlalchemy, ...), none of our I/O modules
    (``shared.db``, ``shared.runtime``, ...), no wire module (``shared.messages*``, ``shared.bus``,
    ``shared.subjects``) and nothing of its service outside the domain, neither directly nor
    through another of our modules that does.
``no-test-support-in-production``
    Production (``shared``, ``services``, ``cli``, ``lab``: what the wheel ships) neither contains
    nor imports test support (``testkit``, ``tests``, ``shared.testing``,
    ``services.gateway.testing``, ``*.adapters.memory*``, ``*fake_world*``).

Usage: ``python scripts/import_contracts.py [--root DIR]``. Exit status 0 when every contract
holds; 1 with one line per broken contract (``file:line: rule: the import — why``); 2 when a
file cannot be parsed.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

__all__ = ["Violation", "check", "main"]

PRODUCTION = ("shared", "services", "cli", "lab")
OUR_PACKAGES = (*PRODUCTION, "testkit", "tests", "bench", "scripts")

IO_LIBRARIES = (
    "asyncio",
    "socket",
    "ssl",
    "selectors",
    "subprocess",
    "multiprocessing",
    "http.client",
    "http.server",
    "urllib.request",
    "smtplib",
    "httpx",
    "requests",
    "aiohttp",
    "nats",
    "faststream",
    "redis",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "psycopg",
    "psycopg2",
    "asyncssh",
    "paramiko",
    "pyVmomi",
    "pyvmomi",
    "uvicorn",
    "fastapi",
    "starlette",
)
"""Libraries whose import means the importer talks to the outside world."""

OUR_IO_MODULES = (
    "shared.db",
    "shared.runtime",
    "shared.nats_connection",
    "shared.nats_auth",
    "shared.streams",
    "shared.republish",
    "shared.dead_letters",
    "shared.embedded",
)
"""Our own modules that do I/O (a domain may not load them)."""

WIRE_MODULES = ("shared.messages", "shared.bus", "shared.subjects")
"""The wire format: message models, the broker, subject names."""

TEST_SUPPORT = (
    "testkit",
    "tests",
    "shared.testing",
    "services.gateway.testing",
    "*.adapters.memory*",
    "*fake_world*",
)
"""Test support: names that must appear nowhere in production (patterns with ``*`` are globs)."""

INDEPENDENT = "independent-services"
PURE = "pure-domain"
NO_TEST_SUPPORT = "no-test-support-in-production"


@dataclass(frozen=True)
class Violation:
    """One broken contract at one line."""

    path: str
    line: int
    rule: str
    statement: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: `{self.statement}` — {self.reason}"


@dataclass(frozen=True)
class Imported:
    """One name a statement imports: ``module`` is the full dotted name (``base.name`` for a
    ``from base import name``, which is a submodule or an attribute of ``base``)."""

    module: str
    line: int
    statement: str


@dataclass
class Module:
    """One source file of ours."""

    name: str
    path: Path
    imports: list[Imported] = field(default_factory=list)


def matches(name: str, pattern: str) -> bool:
    """``name`` is ``pattern`` or inside it (a dotted prefix), or fits the glob ``pattern``."""
    if "*" in pattern:
        return fnmatchcase(name, pattern)
    return name == pattern or name.startswith(pattern + ".")


def _first(name: str, patterns: Iterable[str]) -> str | None:
    return next((p for p in patterns if matches(name, p)), None)


def module_name(root: Path, path: Path) -> str:
    """``services/scaler/domain/model.py`` → ``services.scaler.domain.model`` (a package is its
    ``__init__``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, level: int, base: str | None) -> str:
    """The absolute module a (possibly relative) ``from`` statement names."""
    if level == 0:
        return base or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    anchor = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([*anchor, *([base] if base else [])])


def _statement(node: ast.Import | ast.ImportFrom, resolved: str = "") -> str:
    names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names)
    if isinstance(node, ast.Import):
        return f"import {names}"
    return f"from {'.' * node.level}{node.module or ''} import {names}"


def _statements(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Every statement in ``nodes`` and in the blocks nested in them (expressions are not
    entered: an import statement only ever sits in a block)."""
    for node in nodes:
        yield node
        for block in ("body", "orelse", "finalbody", "handlers", "cases"):
            nested = getattr(node, block, None)
            if isinstance(nested, list):
                yield from _statements(nested)


def imports_of(module: str, is_package: bool, tree: ast.Module, source: str) -> Iterator[Imported]:
    """Every name ``tree`` imports, wherever the statement sits (functions and
    ``if TYPE_CHECKING:`` blocks included), and ``importlib.import_module("literal")`` calls."""
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Imported(alias.name, node.lineno, _statement(node))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            if base == "__future__":
                continue
            for alias in node.names:
                full = base if alias.name == "*" else f"{base}.{alias.name}" if base else alias.name
                yield Imported(full, node.lineno, _statement(node))
    if "import_module" not in source and "__import__" not in source:
        return
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and call.args:
            func = call.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            first = call.args[0]
            if called in {"import_module", "__import__"} and isinstance(first, ast.Constant):
                if isinstance(first.value, str) and not first.value.startswith("."):
                    yield Imported(first.value, call.lineno, f'{called}("{first.value}")')


def load(root: Path) -> dict[str, Module]:
    """Every production module under ``root``, parsed (``SyntaxError`` propagates)."""
    modules: dict[str, Module] = {}
    for top in PRODUCTION:
        base = root / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            name = module_name(root, path)
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source, filename=str(path))
            module = Module(name, path)
            module.imports = list(imports_of(name, path.name == "__init__.py", tree, source))
            modules[name] = module
    return modules


def _own(name: str, modules: dict[str, Module]) -> str | None:
    """The module of ours that an imported name lands in (a submodule, else its package)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _loaded(name: str, modules: dict[str, Module]) -> list[str]:
    """The modules of ours that importing ``name`` runs: it and every package above it."""
    target = _own(name, modules)
    if target is None:
        return []
    parts = target.split(".")
    return [p for p in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if p in modules]


def _service(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 else None


def _is_domain(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "services" and len(parts) > 2 and parts[2] == "domain"


def _domain_reason(importer: str, imported: str) -> str | None:
    """Why a domain module may not import ``imported`` directly, if it may not."""
    if (lib := _first(imported, IO_LIBRARIES)) is not None:
        return f"a domain does no I/O ({lib})"
    if (ours := _first(imported, OUR_IO_MODULES)) is not None:
        return f"a domain does no I/O ({ours})"
    if (wire := _first(imported, WIRE_MODULES)) is not None:
        return f"a domain imports no wire module ({wire})"
    if _service(imported) == _service(importer) and not _is_domain(imported) and imported.count(".") >= 2:
        return f"a domain imports nothing of its service outside the domain ({imported})"
    return None


def _leaky(name: str, modules: dict[str, Module]) -> str | None:
    """Why loading our module ``name`` breaks a domain's purity, judged on the module alone."""
    if (wire := _first(name, WIRE_MODULES)) is not None:
        return f"a domain imports no wire module ({wire})"
    if (ours := _first(name, OUR_IO_MODULES)) is not None:
        return f"a domain does no I/O ({ours})"
    for imported in modules[name].imports:
        if (lib := _first(imported.module, IO_LIBRARIES)) is not None:
            return f"a domain does no I/O ({lib}, imported by {name})"
        if (wire := _first(imported.module, WIRE_MODULES)) is not None:
            return f"a domain imports no wire module ({wire}, imported by {name})"
    return None


def _reaches(start: str, modules: dict[str, Module]) -> tuple[list[str], str] | None:
    """The shortest chain of our modules from ``start`` to one that breaks a domain's purity."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        reason = _leaky(current, modules)
        if reason is not None:
            chain = [current]
            while (before := previous[chain[-1]]) is not None:
                chain.append(before)
            return list(reversed(chain)), reason
        for imported in modules[current].imports:
            for loaded in _loaded(imported.module, modules):
                if loaded not in previous:
                    previous[loaded] = current
                    queue.append(loaded)
    return None


def _support_reason(importer: str, imported: str) -> str | None:
    """Why production may not import ``imported``, if it may not (a module that is itself
    test support is reported once, as shipped, not for each import)."""
    support = _first(imported, TEST_SUPPORT)
    if support is None or _first(importer, TEST_SUPPORT) is not None:
        return None
    return f"production never imports test support ({support})"


def _independence_reason(importer: str, imported: str) -> str | None:
    """Why a service (or ``shared``) may not import ``imported``, if it may not."""
    service = _service(importer)
    top = imported.split(".")[0]
    if importer.split(".")[0] == "shared" and top in OUR_PACKAGES and top != "shared":
        return "shared imports only shared.* (every service imports it)"
    if service is None or top not in OUR_PACKAGES or top == "shared" or imported == "services":
        return None
    if _service(imported) == service:
        return None
    return f"services.{service} imports only shared.* and services.{service}.*"


def _purity_reason(importer: str, imported: str, modules: dict[str, Module]) -> str | None:
    """Why a domain module may not import ``imported``, directly or through our modules."""
    reason = _domain_reason(importer, imported)
    if reason is not None:
        return reason
    for loaded in _loaded(imported, modules):
        if _is_domain(loaded) and _service(loaded) == _service(importer):
            continue  # checked on its own
        hit = _reaches(loaded, modules)
        if hit is not None:
            chain, why = hit
            return f"{why}, through {' → '.join(chain)}"
    return None


def check(root: Path) -> list[Violation]:
    """Every broken contract in the tree at ``root``, in file and line order; each import is
    reported under the first rule it breaks (test support, then independence, then purity)."""
    modules = load(root)
    found: list[Violation] = []
    for name, module in modules.items():
        path = str(module.path.relative_to(root))
        shipped = _first(name, TEST_SUPPORT)
        if shipped is not None:
            found.append(Violation(path, 1, NO_TEST_SUPPORT, name, f"test support shipped in production ({shipped})"))
        for imported in module.imports:
            for rule, reason in (
                (NO_TEST_SUPPORT, _support_reason(name, imported.module)),
                (INDEPENDENT, _independence_reason(name, imported.module)),
                (PURE, _purity_reason(name, imported.module, modules) if _is_domain(name) else None),
            ):
                if reason is not None:
                    found.append(Violation(path, imported.line, rule, imported.statement, reason))
                    break
    unique = {(v.path, v.line, v.rule, v.statement): v for v in found}
    return sorted(unique.values(), key=lambda v: (v.path, v.line, v.rule))


def main(argv: list[str] | None = None) -> int:
    """Check the tree, print each violation, exit 1 if any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        violations = check(root)
    except SyntaxError as exc:
        print(f"{exc.filename}:{exc.lineno}: cannot parse: {exc.msg}", file=sys.stderr)
        return 2
    for violation in violations:
        print(violation)
    if violations:
        rules = sorted({v.rule for v in violations})
        print(f"{len(violations)} import contract violation(s): {', '.join(rules)}", file=sys.stderr)
        return 1
    print("import contracts: kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
