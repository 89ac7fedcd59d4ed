"""Load curves: total demand on a group, in VM-percent, as a function of simulated seconds.

190 VM-percent is two VMs' worth at 95 %. A curve is a plain callable ``(t) -> float`` with a
``label`` for timelines; the constructors below build the usual shapes, and ``+`` adds two curves.
Every curve is deterministic: ``noisy`` draws its noise from ``random.Random(seed)`` in time order,
whatever order it is asked in.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

__all__ = ["LoadCurve"]


class LoadCurve:
    """Demand over time (never negative)."""

    def __init__(self, fn: Callable[[float], float], label: str) -> None:
        self._fn = fn
        self.label = label

    def __call__(self, t: float) -> float:
        """The demand at ``t`` seconds, in VM-percent (clamped at 0)."""
        return max(0.0, self._fn(t))

    def __add__(self, other: LoadCurve) -> LoadCurve:
        return LoadCurve(lambda t: self._fn(t) + other._fn(t), f"{self.label} + {other.label}")

    def __repr__(self) -> str:
        return f"LoadCurve({self.label})"

    @classmethod
    def constant(cls, level: float) -> LoadCurve:
        """``level`` at all times."""
        return cls(lambda _t: level, f"constant({level:g})")

    @classmethod
    def ramp(cls, start_level: float, end_level: float, over_s: float, start_s: float = 0.0) -> LoadCurve:
        """``start_level`` until ``start_s``, then linear to ``end_level`` over ``over_s``, then flat."""

        def fn(t: float) -> float:
            if t <= start_s or over_s <= 0:
                return start_level if t <= start_s else end_level
            if t >= start_s + over_s:
                return end_level
            return start_level + (end_level - start_level) * (t - start_s) / over_s

        return cls(fn, f"ramp({start_level:g}->{end_level:g} over {over_s:g}s from {start_s:g}s)")

    @classmethod
    def plateau(cls, base: float, level: float, start_s: float, duration_s: float, ramp_s: float = 0.0) -> LoadCurve:
        """``base``, rising to ``level`` over ``ramp_s`` from ``start_s``, held ``duration_s``, then
        falling back to ``base`` over ``ramp_s`` (a trapezoid; a rectangle when ``ramp_s`` is 0)."""
        up_end = start_s + ramp_s
        down_start = up_end + duration_s
        down_end = down_start + ramp_s

        def fn(t: float) -> float:
            if t < start_s or t >= down_end:
                return base
            if t < up_end:
                return base + (level - base) * (t - start_s) / ramp_s
            if t < down_start:
                return level
            return level + (base - level) * (t - down_start) / ramp_s

        return cls(fn, f"plateau({base:g}->{level:g} at {start_s:g}s for {duration_s:g}s, ramps {ramp_s:g}s)")

    @classmethod
    def spike(cls, base: float, peak: float, start_s: float, duration_s: float) -> LoadCurve:
        """``base``, and ``peak`` during ``[start_s, start_s + duration_s)``."""
        curve = cls.plateau(base, peak, start_s, duration_s)
        curve.label = f"spike({base:g}->{peak:g} at {start_s:g}s for {duration_s:g}s)"
        return curve

    @classmethod
    def diurnal(cls, low: float, high: float, peak_at_s: float = 14 * 3600, period_s: float = 86_400) -> LoadCurve:
        """A sine between ``low`` and ``high`` with period ``period_s``, highest at ``peak_at_s``."""
        mid, amplitude = (low + high) / 2, (high - low) / 2
        return cls(
            lambda t: mid + amplitude * math.cos(2 * math.pi * (t - peak_at_s) / period_s),
            f"diurnal({low:g}..{high:g}, peak at {peak_at_s:g}s)",
        )

    @classmethod
    def noisy(cls, base: float | LoadCurve, amplitude: float, seed: int, step_s: float = 15.0) -> LoadCurve:
        """``base`` plus uniform noise in ``[-amplitude, amplitude]``, held for ``step_s``.

        The noise of step ``k`` is the ``k``-th draw of ``random.Random(seed)``: the same seed
        gives the same curve whatever order it is sampled in.
        """
        under = base if isinstance(base, LoadCurve) else cls.constant(base)
        rng = random.Random(seed)
        draws: list[float] = []

        def fn(t: float) -> float:
            k = max(0, int(t // step_s))
            while len(draws) <= k:
                draws.append(rng.uniform(-amplitude, amplitude))
            return under._fn(t) + draws[k]

        return cls(fn, f"noisy({under.label} ± {amplitude:g}, seed {seed})")

    @classmethod
    def piecewise(cls, segments: Sequence[tuple[float | None, LoadCurve | float]]) -> LoadCurve:
        """Segments in order, each ``(duration_s, curve)``; each curve sees time from its own start.

        The last segment's duration may be None (it lasts for ever); after the last one ends,
        its value at its end holds. A number stands for ``constant(number)``.
        """
        if not segments:
            raise ValueError("piecewise needs at least one segment")
        starts: list[float] = []
        curves: list[LoadCurve] = []
        at = 0.0
        for i, (duration, curve) in enumerate(segments):
            if duration is None and i != len(segments) - 1:
                raise ValueError("only the last segment may last for ever")
            starts.append(at)
            curves.append(curve if isinstance(curve, LoadCurve) else cls.constant(curve))
            at += duration if duration is not None else math.inf
        end = at

        def fn(t: float) -> float:
            if t >= end:
                return curves[-1]._fn(end - starts[-1])
            i = len(starts) - 1
            while starts[i] > t and i > 0:
                i -= 1
            return curves[i]._fn(t - starts[i])

        return cls(fn, "piecewise(" + ", ".join(c.label for c in curves) + ")")
