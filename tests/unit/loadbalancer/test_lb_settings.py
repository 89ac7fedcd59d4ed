"""Loadbalancer settings: the F5 driver needs its devices and password; TLS is verified by default."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.loadbalancer.adapters.haproxy import HAProxyPools
from services.loadbalancer.drivers import build_driver, f5_client
from services.loadbalancer.settings import LoadbalancerSettings

F5 = {"lb_driver": "f5", "f5_devices": ["https://127.0.0.1:18443"], "f5_password": "s3cret-pass"}


@pytest.mark.parametrize("missing", ["f5_devices", "f5_password"])
def test_the_f5_driver_refuses_to_start_without_devices_or_password(missing: str) -> None:
    with pytest.raises(ValidationError, match=missing):
        LoadbalancerSettings(**{k: v for k, v in F5.items() if k != missing})


def verify_mode(settings: LoadbalancerSettings) -> ssl.VerifyMode:
    client = f5_client(settings)
    return client._transport._pool._ssl_context.verify_mode  # type: ignore[attr-defined]


def test_tls_is_verified_by_default() -> None:
    assert verify_mode(LoadbalancerSettings(**F5)) is ssl.CERT_REQUIRED


def test_a_ca_bundle_is_used_for_verification() -> None:
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    assert verify_mode(LoadbalancerSettings(**F5, f5_ca_bundle=bundle)) is ssl.CERT_REQUIRED


def test_verification_can_be_turned_off_explicitly_for_a_lab() -> None:
    assert verify_mode(LoadbalancerSettings(**F5, f5_verify_tls=False)) is ssl.CERT_NONE


def test_the_password_never_shows_in_public_settings() -> None:
    shown = LoadbalancerSettings(**F5).public_dict()
    assert "s3cret-pass" not in str(shown)


def test_the_in_memory_pools_are_test_support_not_a_driver() -> None:
    with pytest.raises(ValidationError):
        LoadbalancerSettings(lb_driver="memory")


async def test_the_haproxy_driver_is_the_default() -> None:
    driver, close = build_driver(LoadbalancerSettings())
    assert isinstance(driver, HAProxyPools)
    await close()
