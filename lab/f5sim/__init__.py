"""A BIG-IP iControl REST simulator for the lab, written from F5's public API documentation.

It serves ``/mgmt/shared/authn/login`` tokens, ``/mgmt/tm/ltm/{pool,node,virtual}`` with pool
members and their stats, ``/mgmt/tm/transaction`` and ``/mgmt/tm/cm/failover-status`` for an
active/standby pair sharing one (synced) configuration. Errors carry F5's documented JSON body
(``code``, ``message`` with the ``<id>:<severity>:`` prefix, ``errorStack``, ``apiError``).
Health monitors really probe members (loopback addresses only). Test controls live under
``/_sim/`` — they are not part of iControl REST.
"""

from lab.f5sim.app import create_app

__all__ = ["create_app"]
