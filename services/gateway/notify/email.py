"""The e-mail channel: SMTP with STARTTLS (required unless the channel says otherwise), optional
login, one message per notification to the channel's recipients.

``smtplib`` blocks, so each send runs in a worker thread. Errors: a refused login is
``Unauthorized``; a server without STARTTLS (when required) or a certificate that does not verify
is a ``ConfigurationError``; a 5xx answer a ``PermanentError``; a 4xx answer, a timeout or a
refused connection ``RetryableError``. No message carries the password.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from services.gateway.notify.model import ChannelConfig, Notification
from shared.errors import ConfigurationError, InvalidInput, OperationTimeout, ServiceUnavailable, Unauthorized

__all__ = ["EmailChannel", "render_email"]


def render_email(config: ChannelConfig, notification: Notification, delivery_id: str) -> EmailMessage:
    """The message: ``[vmscale] <SEVERITY> <title>``, the text, then the details."""
    message = EmailMessage()
    message["Subject"] = f"[vmscale] {notification.severity.label.upper()}: {notification.title}"
    message["From"] = config.mail_from
    message["To"] = ", ".join(config.mail_to)
    message["Date"] = formatdate(notification.occurred_at.timestamp(), usegmt=True)
    message["Message-ID"] = make_msgid(idstring=delivery_id, domain="vmscale")
    message["X-Vmscale-Kind"] = notification.kind.value
    lines = [notification.text, ""]
    if notification.group:
        lines.append(f"group: {notification.group}")
    lines.append(f"when: {notification.occurred_at.isoformat()}")
    lines += [f"{key}: {value}" for key, value in sorted(notification.details.items())]
    message.set_content("\n".join(lines) + "\n")
    return message


class EmailChannel:
    """``Channel`` over SMTP (module docstring)."""

    def __init__(self, config: ChannelConfig) -> None:
        self.config = config
        self._password = config.read_smtp_password()
        ca = str(config.smtp_ca_file) if config.smtp_ca_file is not None else None
        self._tls = ssl.create_default_context(cafile=ca)

    async def send(self, notification: Notification, delivery_id: str) -> None:
        """Send one message; see ``Channel.send``."""
        message = render_email(self.config, notification, delivery_id)
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        config = self.config
        where = f"{config.smtp_host}:{config.smtp_port}"
        try:
            with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.timeout_s) as smtp:
                smtp.ehlo()
                if config.smtp_starttls:
                    if not smtp.has_extn("starttls"):
                        raise ConfigurationError(f"{where} does not offer STARTTLS", channel=config.name)
                    smtp.starttls(context=self._tls)
                    smtp.ehlo()
                if config.smtp_username:
                    smtp.login(config.smtp_username, self._password)
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise Unauthorized(f"{where} refused the login ({exc.smtp_code})", channel=config.name) from exc
        except ssl.SSLError as exc:
            raise ConfigurationError(f"TLS with {where} failed: {exc.reason}", channel=config.name) from exc
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise ServiceUnavailable(f"{where} answered {exc.smtp_code}", channel=config.name) from exc
            raise InvalidInput(f"{where} refused the message ({exc.smtp_code})", channel=config.name) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise InvalidInput(f"{where} refused every recipient", channel=config.name) from exc
        except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
            raise OperationTimeout(f"{where} did not answer in time", channel=config.name) from exc
        except OSError as exc:
            raise ServiceUnavailable(f"{where} unreachable: {type(exc).__name__}", channel=config.name) from exc
