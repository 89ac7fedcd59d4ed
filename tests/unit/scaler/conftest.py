"""Scaler unit tests import the shared contract suites from tests/contracts."""

from __future__ import annotations

import sys
from pathlib import Path

CONTRACTS = str(Path(__file__).resolve().parents[2] / "contracts")
if CONTRACTS not in sys.path:
    sys.path.insert(0, CONTRACTS)
