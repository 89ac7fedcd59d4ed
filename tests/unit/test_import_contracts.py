"""`make lint`'s import contracts (scripts/import_contracts.py): a temporary copy of the source
with one planted violation fails, naming the file, the line, the import and the rule."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ("shared", "services", "cli", "lab", "scripts")


def _python_only(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n == "__pycache__" or (not n.endswith(".py") and not Path(directory, n).is_dir())}


def _copy(to: Path) -> Path:
    for top in SOURCE:
        shutil.copytree(ROOT / top, to / top, ignore=_python_only)
    return to


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "scripts" / "import_contracts.py"), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _lines(result: subprocess.CompletedProcess[str]) -> set[str]:
    return set(result.stdout.splitlines()) - {"import contracts: kept"}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """What the checker says of the unchanged copy (the plants must add exactly their own line)."""
    return _lines(_check(_copy(tmp_path_factory.mktemp("baseline"))))


PLANTS = [
    pytest.param(
        "services/inventory/planted.py",
        "from services.scaler.domain.model import ScalingGroup\n",
        "services/inventory/planted.py:3: independent-services: "
        "`from services.scaler.domain.model import ScalingGroup` — "
        "services.inventory imports only shared.* and services.inventory.*",
        id="a service importing another service",
    ),
    pytest.param(
        "services/scaler/planted.py",
        "def load() -> object:\n    from ..gateway import app\n\n    return app\n",
        "services/scaler/planted.py:4: independent-services: `from ..gateway import app` — "
        "services.scaler imports only shared.* and services.scaler.*",
        id="a relative import of another service inside a function",
    ),
    pytest.param(
        "shared/planted_reach.py",
        "from services.scaler.domain import model\n",
        "shared/planted_reach.py:3: independent-services: `from services.scaler.domain import model` — "
        "shared imports only shared.* (every service imports it)",
        id="shared importing a service",
    ),
    pytest.param(
        "services/scaler/domain/planted.py",
        "import httpx\n",
        "services/scaler/domain/planted.py:3: pure-domain: `import httpx` — a domain does no I/O (httpx)",
        id="a domain importing httpx",
    ),
    pytest.param(
        "services/monitoring/domain/planted.py",
        "from shared.messages import AlertFired\n",
        "services/monitoring/domain/planted.py:3: pure-domain: `from shared.messages import AlertFired` — "
        "a domain imports no wire module (shared.messages)",
        id="a domain importing the wire messages",
    ),
    pytest.param(
        "services/inventory/domain/planted.py",
        "from services.inventory.ports import InventoryReader\n",
        "services/inventory/domain/planted.py:3: pure-domain: "
        "`from services.inventory.ports import InventoryReader` — "
        "a domain imports nothing of its service outside the domain (services.inventory.ports.InventoryReader)",
        id="a domain importing its service's shell",
    ),
    pytest.param(
        "shared/planted.py",
        "from testkit.clock import FakeClock\n",
        "shared/planted.py:3: no-test-support-in-production: `from testkit.clock import FakeClock` — "
        "production never imports test support (testkit)",
        id="shared importing the testkit",
    ),
    pytest.param(
        "cli/planted.py",
        "from services.scaler.adapters.memory import MemoryLease\n",
        "cli/planted.py:3: no-test-support-in-production: "
        "`from services.scaler.adapters.memory import MemoryLease` — "
        "production never imports test support (*.adapters.memory*)",
        id="the cli importing an in-memory adapter",
    ),
    pytest.param(
        "lab/planted.py",
        "import importlib\n\nFAKES = importlib.import_module('tests.unit.scaler.scaler_harness')\n",
        'lab/planted.py:5: no-test-support-in-production: `import_module("tests.unit.scaler.scaler_harness")` — '
        "production never imports test support (tests)",
        id="the lab loading a test module by name",
    ),
    pytest.param(
        "services/loadbalancer/adapters/memory_pools.py",
        "POOLS: dict[str, str] = {}\n",
        "services/loadbalancer/adapters/memory_pools.py:1: no-test-support-in-production: "
        "`services.loadbalancer.adapters.memory_pools` — test support shipped in production (*.adapters.memory*)",
        id="a fake shipped in a production package",
    ),
]


WIRE_THROUGH_SHARED = (
    "services/scaler/domain/planted_words_user.py:3: pure-domain: `from shared.planted_words import ALL` — "
    "a domain imports no wire module (shared.subjects, imported by shared.planted_words), through shared.planted_words"
)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory, baseline: set[str]) -> tuple[int, set[str]]:
    """One copy with every violation planted at once (each in a file of its own); the checker's
    exit status and the lines it adds to the baseline."""
    root = _copy(tmp_path_factory.mktemp("planted"))
    for plant in PLANTS:
        path, code, _ = plant.values
        (root / str(path)).write_text(f'"""Planted."""\n\n{code}')
    (root / "shared" / "planted_words.py").write_text('"""Planted."""\n\nfrom shared.subjects import ALL\n')
    (root / "services" / "scaler" / "domain" / "planted_words_user.py").write_text(
        '"""Planted."""\n\nfrom shared.planted_words import ALL\n'
    )
    result = _check(root)
    return result.returncode, _lines(result) - baseline


@pytest.mark.parametrize(("path", "code", "expected"), PLANTS)
def test_a_planted_violation_fails_the_check_naming_file_line_import_and_rule(
    planted: tuple[int, set[str]], path: str, code: str, expected: str
) -> None:
    returncode, added = planted
    assert returncode == 1
    assert expected in added


def test_a_domain_may_not_reach_the_wire_through_another_of_our_modules(planted: tuple[int, set[str]]) -> None:
    assert WIRE_THROUGH_SHARED in planted[1]


def test_nothing_but_the_planted_violations_is_reported(planted: tuple[int, set[str]]) -> None:
    assert planted[1] == {str(p.values[2]) for p in PLANTS} | {WIRE_THROUGH_SHARED}


def test_an_unparsable_file_is_an_error_not_a_pass(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "shared" / "planted.py").write_text("def broken(:\n")
    result = _check(root)
    assert result.returncode == 2
    assert "shared/planted.py:1: cannot parse" in result.stderr


def test_the_real_tree_keeps_every_import_contract() -> None:
    result = _check(ROOT)
    assert result.returncode == 0, result.stdout
    assert result.stdout == "import contracts: kept\n"
