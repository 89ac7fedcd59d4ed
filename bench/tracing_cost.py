"""The cost of exporting traces on the webhook, as a ratio measured in one run.

Webhook requests per second of one gateway process (real NATS and Redis, one worker, as
``bench.metrics_cost``) with ``OTEL_TRACES_EXPORTER=otlp`` sending every span to a loopback
OTLP/HTTP receiver, against ``none`` (the default: spans not recorded), alternated twice so a
drift of the machine falls on both sides. Prints the ratio on/off (1.0 = no cost).
"""

from __future__ import annotations

import asyncio
import statistics

from bench.metrics_cost import webhook_rps
from testkit.otlp_receiver import otlp_receiver


async def main() -> None:
    """Measure the webhook with the OTLP exporter on and off; print the ratio."""
    rps: dict[bool, list[float]] = {True: [], False: []}
    with otlp_receiver() as receiver:
        for _ in range(2):
            for on in (True, False):
                env = {"OTEL_TRACES_EXPORTER": "otlp" if on else "none"}
                if on:
                    env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = receiver.endpoint
                rps[on].append(await webhook_rps(True, env))
        spans = len(receiver.spans())
    on_rps, off_rps = statistics.mean(rps[True]), statistics.mean(rps[False])
    print(f"webhook, 1 worker: otlp {on_rps:7.0f} req/s, none {off_rps:7.0f} req/s ({spans} spans received)")
    print(f"  throughput ratio otlp/none: {on_rps / off_rps:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
