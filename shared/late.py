"""Late binding: a port whose adapter exists only once the service has started.

A composition root builds its use cases before anything connects (STYLE rule 9), but the SQL
adapters need the engine, which ``ServiceRuntime.start`` opens after migrating. ``Late`` is the one
way to hand a use case its store now and bind the real adapter in the start hook::

    records: Late[MemberRecords] = Late("member records")
    membership = Membership(driver, records.proxy(), ...)
    runtime.on_startup(lambda: records.bind(SqlRecords(runtime.require_engine())))

Until ``bind``, every use of the proxy raises ``NotBound`` (a ``RuntimeError``: a wiring bug,
never a condition to handle).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

__all__ = ["Late", "NotBound"]

T = TypeVar("T")


class NotBound(RuntimeError):
    """A late-bound port was used before the service started (a wiring bug)."""


class Late(Generic[T]):
    """A value bound once, after construction; ``proxy()`` stands in for it meanwhile."""

    def __init__(self, what: str) -> None:
        """``what`` names the port in the ``NotBound`` message ("the scaler's database")."""
        self._what = what
        self._value: T | None = None

    def bind(self, value: T) -> None:
        """Bind ``value`` (a later bind replaces it: a restarted runtime binds its new engine)."""
        self._value = value

    @property
    def bound(self) -> bool:
        """Whether ``bind`` was called."""
        return self._value is not None

    def get(self) -> T:
        """The bound value; ``NotBound`` before ``bind``."""
        if self._value is None:
            raise NotBound(f"{self._what} is available once the service has started")
        return self._value

    def proxy(self) -> T:
        """An object that forwards every attribute to the bound value, looked up at each use:
        hand it to use cases built before the service starts."""
        return cast(T, _Proxy(self))


class _Proxy:
    """Forwards attribute access to ``Late.get()``."""

    __slots__ = ("_late",)

    def __init__(self, late: Late[Any]) -> None:
        self._late = late

    def __getattr__(self, name: str) -> Any:
        return getattr(self._late.get(), name)

    def __repr__(self) -> str:
        late = self._late
        return f"<late {late._what}: {late._value!r}>" if late.bound else f"<late {late._what}: unbound>"
