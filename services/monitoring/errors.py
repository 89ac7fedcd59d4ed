"""SSH failures of the monitoring service, classified (lesson 53) inside the shared tree::

HostUnreachable      (ServiceUnavailable)  connection refused, no route, DNS
SshTimeout           (OperationTimeout)    connect or command ran out of time
AuthenticationFailed (Unauthorized)        the key was refused
HostKeyChanged       (Conflict)            the host presents a key other than the recorded one
HostKeyUnknown       (Conflict)            strict mode and the host was never recorded
RemoteCommandFailed  (PermanentError)      a command on the host exited non-zero
"""

from __future__ import annotations

from shared.errors import Conflict, OperationTimeout, PermanentError, ServiceUnavailable, Unauthorized

__all__ = [
    "AuthenticationFailed",
    "HostKeyChanged",
    "HostKeyUnknown",
    "HostUnreachable",
    "RemoteCommandFailed",
    "SshTimeout",
]


class HostUnreachable(ServiceUnavailable):
    """The host did not accept an SSH connection."""

    kind = "unreachable"


class SshTimeout(OperationTimeout):
    """Connecting, or a command, took longer than allowed."""

    kind = "timeout"


class AuthenticationFailed(Unauthorized):
    """The host refused the configured user and key."""

    kind = "authentication"


class HostKeyChanged(Conflict):
    """The host key differs from the one recorded on first use (possible impersonation)."""

    kind = "host_key_changed"


class HostKeyUnknown(Conflict):
    """Strict host-key checking is on and the host is not in known_hosts."""

    kind = "host_key_unknown"


class RemoteCommandFailed(PermanentError):
    """A command on the host exited non-zero; ``details`` has the exit status and stderr tail."""

    kind = "command_failed"
