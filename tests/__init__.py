"""The test tiers. Every directory is a package: test helpers are imported by their full path from
the repository root (``from tests.contracts.scaler_lease import …``); shared fakes are in ``testkit``."""
