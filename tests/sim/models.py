"""The models of the simulation tier (docs/architecture.md §3a, §6): VMs and load, Prometheus, Alertmanager.

Pure Python, deterministic, advanced only by simulated time (a ``SimTime`` over the test's
``FakeClock``). The driver wires them like this::

    time = SimTime(clock)
    world = World(time, LoadCurve.constant(120))
    am = AlertmanagerModel(time)
    prom = PrometheusModel(time, world, alertmanager=am)
    prom.add_rules(RuleSpec.of(group))
    metrics = ModelMetrics(prom)              # the scaler's MetricsQuery port

    clock.advance(15)
    prom.advance_to()                          # scrapes, evaluations, alerts → am
    for message in am.advance_to():            # AlertFired / AlertResolved, as the gateway
        ...                                    # publishes them
    for change in world.take_transitions():    # VMs cloned / booted / running
        ...
"""

from .alertmanager_model import AlertmanagerModel, Notification, NotifiedAlert, Silence
from .load import LoadCurve
from .metrics_adapter import ModelMetrics
from .prometheus_model import PrometheusModel, PrometheusUnavailable, Target
from .promql import SeriesPoint, TargetSeries, extrapolated_rate, rate_of_points
from .rules_model import AlertState, RuleAlert, RuleSpec, SentAlert, fingerprint_of
from .simtime import Instant, SimTime
from .world_model import CapacityExhausted, ExporterSample, SimVm, Transition, VmState, World

__all__ = [
    "AlertState",
    "AlertmanagerModel",
    "CapacityExhausted",
    "ExporterSample",
    "Instant",
    "LoadCurve",
    "ModelMetrics",
    "Notification",
    "NotifiedAlert",
    "PrometheusModel",
    "PrometheusUnavailable",
    "RuleAlert",
    "RuleSpec",
    "SentAlert",
    "SeriesPoint",
    "Silence",
    "SimTime",
    "SimVm",
    "Target",
    "TargetSeries",
    "Transition",
    "VmState",
    "World",
    "extrapolated_rate",
    "fingerprint_of",
    "rate_of_points",
]
