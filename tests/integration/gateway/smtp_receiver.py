"""A small SMTP server on loopback for the e-mail channel's tests: EHLO, STARTTLS (asyncio's
``StreamWriter.start_tls``), AUTH PLAIN, MAIL, RCPT, DATA, QUIT — enough to receive what a real
client sends, and to record whether it was encrypted and who logged in."""

from __future__ import annotations

import asyncio
import base64
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message


@dataclass
class Received:
    """One message as the server took it."""

    sender: str
    recipients: list[str]
    message: Message
    encrypted: bool
    user: str | None


@dataclass
class SmtpReceiver:
    """Serves on ``127.0.0.1``; ``offer_starttls`` false plays a server without TLS."""

    tls: ssl.SSLContext | None
    user: str = "vmscale"
    password: str = ""
    offer_starttls: bool = True
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)
    server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        encrypted, user = False, None
        sender, recipients = "", []

        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await say("220 127.0.0.1 ESMTP test")
        try:
            while line := (await reader.readline()).decode().rstrip("\r\n"):
                verb, _, argument = line.partition(" ")
                verb = verb.upper()
                if verb in ("EHLO", "HELO"):
                    features = ["250-127.0.0.1"]
                    if self.offer_starttls and self.tls is not None and not encrypted:
                        features.append("250-STARTTLS")
                    features.append("250 AUTH PLAIN")
                    for feature in features:
                        await say(feature)
                elif verb == "STARTTLS" and self.tls is not None:
                    await say("220 go ahead")
                    await writer.start_tls(self.tls)
                    encrypted = True
                elif verb == "AUTH":
                    mechanism, _, blob = argument.partition(" ")
                    _, name, given = base64.b64decode(blob).decode().split("\0")
                    self.logins.append((name, encrypted))
                    if mechanism.upper() == "PLAIN" and name == self.user and given == self.password:
                        user = name
                        await say("235 ok")
                    else:
                        await say("535 authentication failed")
                elif verb == "MAIL":
                    sender, recipients = argument.split(":", 1)[1].strip(" <>"), []
                    await say("250 ok")
                elif verb == "RCPT":
                    recipients.append(argument.split(":", 1)[1].strip(" <>"))
                    await say("250 ok")
                elif verb == "DATA":
                    await say("354 end with .")
                    body = b""
                    while (chunk := await reader.readline()) != b".\r\n":
                        body += chunk[1:] if chunk.startswith(b"..") else chunk
                    self.messages.append(Received(sender, recipients, message_from_bytes(body), encrypted, user))
                    await say("250 queued")
                elif verb == "QUIT":
                    await say("221 bye")
                    break
                else:
                    await say("250 ok")
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
