"""E-mail: a notification, or a day's digest of them, rendered from templates/email/ in the recipient's
language (Hebrew right to left) as a plain-text and an HTML part; and the SMTP connection that sends them
(host, port, TLS mode and login from the settings). Rendering does no I/O beyond reading the templates (once).

Messages are built with the standard library's MIME classes (email.mime, the compat32 policy), which write what
they are given: four times faster than the header parsing and folding of email.message.EmailMessage (0.5 ms
against 1.9 ms a message, measured), which was a fifth of the delivery loop's own time. Non-ASCII headers are
encoded words (RFC 2047), bodies UTF-8 in base64."""
from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import date
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.notifications import domain, messages
from shared.config import Settings

TEMPLATES = Path(__file__).parent / "templates" / "email"
DIGEST_MESSAGE = "email.digest"  # how a digest is named where a message key is asked for (failed events)


@lru_cache(maxsize=1)
def _templates() -> Environment:
    # auto_reload off: the templates ship with the code, and checking their files' times was a stat per e-mail.
    return Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, trim_blocks=True,
                       lstrip_blocks=True, keep_trailing_newline=True, auto_reload=False,
                       autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False))


@dataclass(frozen=True)
class Contact:
    """Whom an e-mail goes to, as the directory last told us."""

    address: str
    name: str
    lang: str


@dataclass(frozen=True)
class Letterhead:
    """What every e-mail carries besides its content: the sender and where links point."""

    sender: str
    public_url: str

    @classmethod
    def of(cls, settings: Settings) -> "Letterhead":
        return cls(settings.smtp_from, settings.public_url.rstrip("/"))

    @property
    def domain(self) -> str:
        return parseaddr(self.sender)[1].rpartition("@")[2] or "cocreate.local"

    def idea(self, idea_id: str | None) -> str | None:
        return f"{self.public_url}/ideas/{idea_id}" if idea_id else None

    @property
    def inbox(self) -> str:
        return f"{self.public_url}/notifications/"


def _item(doc: Mapping[str, Any], lang: str, letterhead: Letterhead) -> dict[str, Any]:
    params = doc.get("params") or {}
    title, body = messages.render(doc["message"], params, lang)
    return {"title": title, "lines": body.splitlines(), "link": letterhead.idea(params.get("idea_id"))}


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


def _message(*, subject: str, to: Contact, letterhead: Letterhead, message_id: str, template: str,
             context: Mapping[str, Any], headers: Mapping[str, str]) -> Message:
    lang = messages.language(to.lang)
    values = dict(context, lang=lang, dir=messages.direction(lang), subject=subject,
                  greeting=messages.email_text("greeting", lang, name=to.name),
                  why=messages.email_text("why", lang), inbox=letterhead.inbox,
                  open_inbox=messages.email_text("open_inbox", lang), open_idea=messages.email_text("open_idea", lang))
    env = _templates()
    message = MIMEMultipart("alternative")
    message["Subject"] = _header(subject)
    message["From"] = formataddr(parseaddr(letterhead.sender), charset="utf-8")
    message["To"] = formataddr((to.name, to.address), charset="utf-8")
    # Stable across retries: a receiver (or a mail filter) can drop a copy resent after a worker died mid-send.
    message["Message-ID"] = f"<{message_id}@{letterhead.domain}>"
    message["Date"] = format_datetime(context["sent_at"])
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = lang
    for name, value in headers.items():
        message[name] = value
    message.attach(MIMEText(env.get_template(f"{template}.txt").render(values), "plain", "utf-8"))
    message.attach(MIMEText(env.get_template(f"{template}.html").render(values), "html", "utf-8"))
    return message


def notification_email(doc: Mapping[str, Any], to: Contact, letterhead: Letterhead, *, sent_at) -> Message:
    """One notification (an `emails` document) as an e-mail to `to`, in their language."""
    item = _item(doc, to.lang, letterhead)
    return _message(subject=item["title"], to=to, letterhead=letterhead, message_id=doc["_id"],
                    template="notification", context={"item": item, "sent_at": sent_at},
                    headers={"X-Cocreate-Notification-Id": doc["_id"]})


def digest_email(digest_id: str, items: Iterable[Mapping[str, Any]], to: Contact, letterhead: Letterhead, *,
                 sent_at) -> Message:
    """A day's notifications in one e-mail to `to`, oldest first."""
    lang = messages.language(to.lang)
    shown = [_item(doc, lang, letterhead) for doc in items]
    day: date = domain.digest_day(digest_id)
    subject = (messages.email_text("digest_subject_one", lang) if len(shown) == 1
               else messages.email_text("digest_subject", lang, count=len(shown)))
    intro = messages.email_text("digest_intro", lang, day=format_date(day, format="long", locale=lang))
    return _message(subject=subject, to=to, letterhead=letterhead, message_id=digest_id, template="digest",
                    context={"items": shown, "intro": intro, "sent_at": sent_at},
                    headers={"X-Cocreate-Digest-Id": digest_id})


# --- sending ---------------------------------------------------------------------------------------------

class SendFailed(Exception):
    """The SMTP server did not take the message. `permanent`: it refused this recipient or message for good
    (5xx); retrying will not help."""

    def __init__(self, reason: str, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason[:1000]
        self.permanent = permanent


# An SMTP connection idle this long is closed (servers wait minutes before closing an idle client's); one
# idle for more than CHECK_SECONDS is asked a NOOP before it carries a message, and opened again if dead.
KEEP_SECONDS = 30.0
CHECK_SECONDS = 1.0


class SmtpMailer:
    """One SMTP connection, opened on the first message and kept while messages keep coming: the delivery loop
    closes it once it has been idle KEEP_SECONDS (close_idle). At 10 e-mails a second, a connection per pass
    (EHLO, STARTTLS and login each time) was a third of the delivery loop's time."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.clock = clock
        self._connection: smtplib.SMTP | None = None
        self._used = 0.0

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if s.smtp_tls == "ssl":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds,
                                                        context=context)
        else:
            connection = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
            if s.smtp_tls == "starttls":
                connection.starttls(context=context)
        if s.smtp_user:
            connection.login(s.smtp_user, s.smtp_password)
        return connection

    def send(self, message: Message) -> None:
        if self._connection is not None and self.clock() - self._used > CHECK_SECONDS and not self._alive():
            self.close()
        reused = self._connection is not None
        try:
            if self._connection is None:
                self._connection = self._connect()
            self._connection.send_message(message)
            self._used = self.clock()
        except smtplib.SMTPServerDisconnected as exc:
            self.close()
            if reused:  # the server closed an idle connection before the message started: once more, afresh
                return self.send(message)
            raise SendFailed(f"SMTP server disconnected: {exc}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            code, reply = next(iter(exc.recipients.values()))
            raise SendFailed(f"SMTP {code} {_text(reply)}", permanent=code >= 500) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            # Only a refused message is final; a refused login or sender is our configuration: retry after a fix.
            permanent = isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500
            raise SendFailed(f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}", permanent=permanent) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise SendFailed(f"{type(exc).__name__}: {exc}") from None

    def _alive(self) -> bool:
        try:
            return self._connection.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False

    def close_idle(self, seconds: float = KEEP_SECONDS) -> None:
        """Close the connection if no message went over it for `seconds`."""
        if self._connection is not None and self.clock() - self._used >= seconds:
            self.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
