"""``Late``: a port handed out before the service starts, bound once the engine exists."""

from __future__ import annotations

import pytest

from shared.late import Late, NotBound


class Store:
    def __init__(self, name: str) -> None:
        self.name = name

    async def get(self, key: str) -> str:
        return f"{self.name}:{key}"


async def test_the_proxy_forwards_to_what_was_bound() -> None:
    late: Late[Store] = Late("the store")
    store = late.proxy()
    late.bind(Store("sql"))
    assert await store.get("k") == "sql:k"
    assert late.bound and late.get().name == "sql"


async def test_use_before_bind_is_a_wiring_error_naming_the_port() -> None:
    late: Late[Store] = Late("member records")
    with pytest.raises(NotBound, match="member records is available once the service has started"):
        await late.proxy().get("k")
    with pytest.raises(RuntimeError):
        late.get()
    assert not late.bound


async def test_a_later_bind_replaces_the_value_for_proxies_handed_out_before() -> None:
    late: Late[Store] = Late("the store")
    store = late.proxy()
    late.bind(Store("first"))
    late.bind(Store("second"))
    assert await store.get("k") == "second:k"
