"""The delivery loop of the notifications worker: e-mails (at once, and each person's daily digest) over SMTP
and webhook calls to other systems, each claimed under a lease so that two workers never send the same one,
retried with exponential backoff, every attempt logged on its delivery record, and `notification.delivered` /
`notification.failed` written to that record's outbox in the same write as the attempt's outcome.

It runs beside the consumer and the relay in `python -m services.notifications.worker`; `python -m
services.notifications.delivery` runs it alone (to scale sending apart from consuming). The clock is
injectable: digests are due at a local hour, and tests move time instead of waiting for it.

Delivery is at least once. A worker that dies after the SMTP server or the receiver took a message but before
the outcome was written sends it again once its lease runs out; the copies carry the same Message-ID /
X-Cocreate-Event-Id, which receivers use to drop them.

In the worker, the loop also takes the e-mails its consumer makes to send at once, stored already claimed by it
(`take`, services.send_at_once_by): they are sent as they come, without being searched for and claimed; the
search, every `delivery_poll_seconds`, finds the rest (retries, digests, webhook calls, and what a worker that
died had claimed)."""
from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from email.message import Message
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests
from pymongo.database import Database
from pymongo.errors import PyMongoError

from services.notifications import SERVICE, domain, mail, signing
from services.notifications.domain import ACCEPTED, CANCELLED, DEAD, DELIVERED, EMAIL, FAILED, SKIPPED, WEBHOOK
from services.notifications.repository import (INDEXES, OUTBOX_COLLECTIONS, DeliveryQueue, DigestRuns, Emails,
                                               People, WebhookDeliveries, Webhooks, attempt_entry)
from services.notifications.services import DELIVERED as DELIVERED_EVENT, FAILED as FAILED_EVENT
from shared import logs
from shared.config import Settings, load_settings
from shared.events import Event, new_event
from shared.mongo import apply_indexes, database_for
from shared.outbox import outbox_indexes

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
Failed = Callable[[int, str, bool], Event]  # (attempt, reason, final) -> the notification.failed event
USER_AGENT = "Cocreate-Webhooks/1"
ANSWER_READ = 64 * 1024  # bytes of a webhook receiver's answer read so its connection can be reused
MAX_LISTED = 1000  # notifications listed in one delivered event (the contract's bound); a digest rarely nears it


class _Refused(Exception):
    """A webhook call not made (see Dispatcher._refused)."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Dispatcher:
    """Sends what is due: e-mails, digests (formed once a day at the configured local hour) and webhook calls."""

    def __init__(self, db: Database, settings: Settings, *, clock: Clock = utc_now,
                 mailer: mail.SmtpMailer | None = None, http: requests.Session | None = None,
                 owner: str | None = None):
        self.settings = settings
        self.clock = clock
        self.emails, self.calls = Emails(db), WebhookDeliveries(db)
        self.people, self.webhooks, self.runs = People(db), Webhooks(db), DigestRuns(db)
        self.mailer = mailer or mail.SmtpMailer(settings)
        self.http = http or requests.Session()
        self.letterhead = mail.Letterhead.of(settings)
        self.zone = ZoneInfo(settings.digest_timezone)
        self.lease = timedelta(seconds=settings.delivery_lease_seconds)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self._formed: str | None = None  # the last day whose digests are known to be formed
        # E-mails taken, claimed, to send now, each with its recipient's contact if the fan-out had it.
        self._handed: queue.SimpleQueue[tuple[dict, Mapping[str, Any] | None]] = queue.SimpleQueue()
        self._wake = threading.Event()  # set when some are taken

    # --- e-mails handed over as they are made (services.Handover) ----------------------------------------
    def claim(self) -> tuple[str, datetime]:
        return self.owner, self.clock() + self.lease

    def take(self, mails: list[tuple[dict, Mapping[str, Any] | None]]) -> None:
        for mail_and_contact in mails:
            self._handed.put(mail_and_contact)
        if mails:
            self._wake.set()

    # --- the loop ---------------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Send what is handed over as it comes; search for what is due every `delivery_poll_seconds`, and at
        once again while searches find some."""
        log.info("delivery loop started")
        poll = self.settings.delivery_poll_seconds
        search_at = 0.0  # time.monotonic() of the next search
        while not stop.is_set():
            self._wake.clear()
            busy = 0
            try:
                busy = self._send_handed(stop)
                if time.monotonic() >= search_at:
                    found = self.search_once(stop)
                    busy += found
                    search_at = time.monotonic() + (0.0 if found else poll)
            except PyMongoError:
                log.exception("delivery: store unavailable; retrying")
                self.mailer.close()
                stop.wait(1.0)
                continue
            except Exception:  # never let one bad document stop every delivery; it is logged and retried
                log.exception("delivery pass failed; retrying")
                self.mailer.close()
                search_at = time.monotonic() + poll
            if not busy:
                self.mailer.close_idle()
                self._wake.wait(max(0.0, search_at - time.monotonic()))
        self._give_back_handed()
        self.mailer.close()
        log.info("delivery loop stopped")

    def dispatch_once(self, stop: threading.Event | None = None) -> int:
        """One pass: what was handed over, then a search. Returns how many were settled."""
        return self._send_handed(stop) + self.search_once(stop)

    def _send_handed(self, stop: threading.Event | None) -> int:
        settled = 0
        while stop is None or not stop.is_set():
            try:
                doc, contact = self._handed.get_nowait()
            except queue.Empty:
                break
            if self.clock() >= doc["due"] - self.lease / 2:  # waited half its claim: a search may take it soon
                self.emails.give_back(doc, self.owner, self.clock())
                continue
            settled += self._attempt_email(doc, contact)
        return settled

    def _give_back_handed(self) -> None:
        """Stopping: what was handed over and not sent is due at once for whichever loop searches next."""
        try:
            while True:
                self.emails.give_back(self._handed.get_nowait()[0], self.owner, self.clock())
        except queue.Empty:
            pass
        except PyMongoError:
            log.warning("stopping: handed e-mails not given back; they are sent once their claim runs out")

    def search_once(self, stop: threading.Event | None = None) -> int:
        """Form the day's digests if due, then send what is due. Returns how many were settled. The SMTP
        connection is left open for the next pass (the loop closes it once idle)."""
        self.form_digests()
        settled = 0
        batch = self.settings.delivery_batch
        for doc in self.emails.due(self.clock(), batch):
            if stop is not None and stop.is_set():
                return settled
            settled += self._send_digest(doc) if doc.get("kind") == "digest" else self._send_email(doc)
        for doc in self.calls.due(self.clock(), batch):
            if stop is not None and stop.is_set():
                break
            settled += self._call_webhook(doc)
        return settled

    def drain(self, limit: int = 100) -> int:
        """Passes until nothing is due now (tests and maintenance); returns how many were settled."""
        total = 0
        try:
            for _ in range(limit):
                settled = self.dispatch_once()
                total += settled
                if not settled:
                    break
        finally:
            self.mailer.close()
        return total

    # --- claims and outcomes ---------------------------------------------------------------------------
    def _claim(self, queue: DeliveryQueue, doc: Mapping[str, Any]) -> dict | None:
        now = self.clock()
        return queue.claim(doc, self.owner, now, now + self.lease)

    def _allowed(self, doc: Mapping[str, Any]) -> int:
        return domain.attempts_allowed(self.settings.delivery_max_attempts, doc.get("replayed_after", 0))

    def _settle_success(self, queue: DeliveryQueue, doc: dict, entry: dict, delivered: Event) -> None:
        now = entry["at"]
        if not queue.settle(doc, self.owner, {"$set": {"status": DELIVERED, "delivered_at": now},
                                              "$push": {"log": entry}}, [delivered]):
            log.warning("delivered, but the claim had run out meanwhile (another worker may send it again)",
                        extra={"delivery_id": doc["_id"]})

    def _settle_failure(self, queue: DeliveryQueue, doc: dict, entry: dict, failed: Failed, *,
                        permanent: bool = False) -> None:
        """Retry after the backoff, or, after the last allowed attempt (or a refusal for good), dead."""
        attempt = doc["attempts"]
        final = permanent or attempt >= self._allowed(doc)
        now = entry["at"]
        retry_at = now + timedelta(seconds=domain.backoff(attempt, self.settings.delivery_backoff_seconds,
                                                          self.settings.delivery_backoff_max_seconds))
        update = {"$set": {"status": DEAD, "dead_at": now} if final else {"due": retry_at}, "$push": {"log": entry}}
        if not queue.settle(doc, self.owner, update, [failed(attempt, entry["error"], final)]):
            log.warning("attempt failed, but the claim had run out meanwhile", extra={"delivery_id": doc["_id"]})
        (log.error if final else log.warning)("delivery attempt failed", extra={
            "delivery_id": doc["_id"], "attempt": attempt, "final": final, "reason": entry["error"]})

    def _settle_without_attempt(self, queue: DeliveryQueue, doc: dict, status: str, reason: str) -> None:
        """Nothing to attempt (no address, subscription gone): settled with the reason; the attempt is not spent."""
        queue.settle(doc, self.owner, {"$set": {"status": status, "reason": reason},
                                       "$inc": {"attempts": -1}})

    def _out_of_attempts(self, queue: DeliveryQueue, doc: dict, failed: Failed) -> bool:
        """A claim past the last allowed attempt happens only when that attempt was interrupted (the claim
        logged it so): the delivery is dead, under the interrupted attempt's number."""
        if doc["attempts"] <= self._allowed(doc):
            return False
        last, reason = doc["attempts"] - 1, "the last attempt was interrupted (its worker stopped)"
        queue.settle(doc, self.owner, {"$set": {"status": DEAD, "dead_at": self.clock()}, "$inc": {"attempts": -1}},
                     [failed(last, reason, True)])
        log.error("delivery dead", extra={"delivery_id": doc["_id"], "attempt": last, "reason": reason})
        return True

    # --- e-mail -----------------------------------------------------------------------------------------
    def _send_email(self, candidate: Mapping[str, Any]) -> int:
        doc = self._claim(self.emails, candidate)
        if doc is None:
            return 0
        return self._attempt_email(doc)

    def _attempt_email(self, doc: dict, contact: Mapping[str, Any] | None = None) -> int:
        """The attempt of a claimed e-mail, to `contact` if given (as read moments ago), else as looked up now;
        returns 1 (settled, whatever the outcome)."""

        def failed(attempt: int, reason: str, final: bool) -> Event:
            return _failed_event(doc, EMAIL, doc["_id"], doc["recipient"], doc["category"], doc["message"],
                                 doc["event"], attempt, reason, final, self.clock())

        if self._out_of_attempts(self.emails, doc, failed):
            return 1
        if contact is None:
            contact = self.people.contact(doc["recipient"])
        if contact is None or not contact.get("email"):
            self._settle_without_attempt(self.emails, doc, SKIPPED, "no e-mail address, or no longer reachable")
            return 1
        message = mail.notification_email(doc, _contact(contact), self.letterhead, sent_at=self.clock())
        self._deliver_mail(doc, message, failed, lambda at: _delivered_event(
            doc, EMAIL, doc["event"], [_listed(doc, doc["recipient"])], at))
        return 1

    def _send_digest(self, candidate: Mapping[str, Any]) -> int:
        doc = self._claim(self.emails, candidate)
        if doc is None:
            return 0
        items = self.emails.items(doc["_id"])
        source = {"id": doc["_id"], "type": "digest", "subject": doc["recipient"]}
        first = items[0] if items else {"category": domain.MY_IDEAS}

        def failed(attempt: int, reason: str, final: bool) -> Event:
            return _failed_event(doc, EMAIL, doc["_id"], doc["recipient"], first["category"], mail.DIGEST_MESSAGE,
                                 source, attempt, reason, final, self.clock())

        if self._out_of_attempts(self.emails, doc, failed):
            return 1
        contact = self.people.contact(doc["recipient"])
        kept = [item for item in items if item.get("params") is not None]
        if contact is None or not kept:
            self._settle_without_attempt(self.emails, doc, SKIPPED, "nothing to tell, or no longer reachable")
            return 1
        message = mail.digest_email(doc["_id"], kept, _contact(contact), self.letterhead, sent_at=self.clock())
        self._deliver_mail(doc, message, failed, lambda at: _delivered_event(
            doc, EMAIL, source, [_listed(item, doc["recipient"], event=item["event"]) for item in kept], at))
        return 1

    def _deliver_mail(self, doc: dict, message: Message, failed: Failed,
                      delivered: Callable[[datetime], Event]) -> None:
        started = time.perf_counter()
        try:
            self.mailer.send(message)
        except mail.SendFailed as exc:
            now = self.clock()
            entry = attempt_entry(doc["attempts"], FAILED, now, error=exc.reason,
                                  duration_ms=(time.perf_counter() - started) * 1000)
            self._settle_failure(self.emails, doc, entry, failed, permanent=exc.permanent)
            return
        now = self.clock()
        entry = attempt_entry(doc["attempts"], ACCEPTED, now, duration_ms=(time.perf_counter() - started) * 1000)
        self._settle_success(self.emails, doc, entry, delivered(now))

    # --- daily digests -------------------------------------------------------------------------------------
    def form_digests(self) -> int:
        """Once the day's digest hour has passed: one digest per person with held notifications of events before
        it, each holding them. Formed once per day (a lease, then a mark); a run cut short is finished by the
        next. Returns how many digests were formed."""
        now = self.clock()
        day, at = domain.digest_window(now, self.settings.digest_hour, self.zone)
        if self._formed == day:
            return 0
        if self.runs.done(day):
            self._formed = day
            return 0
        if not self.runs.claim(day, self.owner, now, now + self.lease):
            return 0
        cutoff = domain.stamp(at)
        # A run cut short before its digests were released left them forming: release them first.
        self.emails.release([d["_id"] for d in self.emails.forming()], now)
        people = self.emails.held_before(cutoff)
        digests = {person: domain.digest_id(day, person) for person in people}
        # The digest first (forming: nobody sends it yet), then its notifications, then it is released. A run
        # cut short anywhere leaves nothing lost: the next finds the held ones again, or releases what formed.
        self.emails.open_digests([{"_id": digest, "kind": "digest", "day": day, "recipient": person,
                                   "status": domain.FORMING, "due": now, "attempts": 0}
                                  for person, digest in digests.items()])
        for person, digest in digests.items():
            self.emails.take(person, cutoff, digest)
        self.emails.release(list(digests.values()), now)
        self.runs.finish(day, self.owner, now)
        self._formed = day
        if digests:
            log.info("daily digests formed", extra={"day": day, "digests": len(digests)})
        return len(digests)

    # --- webhooks ---------------------------------------------------------------------------------------
    def _refused(self, url: str) -> str | None:
        """Why a webhook URL may not be called now: its host resolves to a non-public address (unless the
        deployment allows them). Checked just before each call; a name re-pointed between this check and the
        connection is not caught."""
        if self.settings.webhook_allow_private:
            return None
        parts = urlsplit(url)
        try:
            found = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                       type=socket.SOCK_STREAM)
        except OSError as exc:
            return f"cannot resolve {parts.hostname}: {exc}"
        address = domain.non_public(info[4][0] for info in found)
        return f"refused: {parts.hostname} is {address}, not a public address" if address else None

    def _call_webhook(self, candidate: Mapping[str, Any]) -> int:
        doc = self._claim(self.calls, candidate)
        if doc is None:
            return 0
        hook = self.webhooks.get(doc["webhook"])
        category = domain.webhook_category(doc["event"]["type"])

        def failed(attempt: int, reason: str, final: bool) -> Event:
            return _failed_event(doc, WEBHOOK, doc["_id"], doc["owner_id"], category, doc["event"]["type"],
                                 doc["event"], attempt, reason, final, self.clock(), webhook_id=doc["webhook"])

        if self._out_of_attempts(self.calls, doc, failed):
            return 1
        if hook is None or not hook.get("active") or "body" not in doc:
            self._settle_without_attempt(self.calls, doc, CANCELLED,
                                         "the subscription was paused or deleted, or the person erased")
            return 1
        body = doc["body"].encode()
        headers = {
            "Content-Type": "application/cloudevents+json",
            "User-Agent": USER_AGENT,
            "X-Cocreate-Event-Id": doc["event"]["id"],
            "X-Cocreate-Event-Type": doc["event"]["type"],
            "X-Cocreate-Delivery-Id": doc["_id"],
            "X-Cocreate-Delivery-Attempt": str(doc["attempts"]),
            # Wall-clock time, not the injectable clock: receivers compare it with theirs.
            signing.HEADER: signing.sign(hook["secret"], body, int(time.time())),
        }
        started = time.perf_counter()
        status_code, error = None, self._refused(hook["url"])
        try:
            if error:
                raise _Refused(error)
            response = self.http.post(hook["url"], data=body, headers=headers, allow_redirects=False, stream=True,
                                      timeout=self.settings.webhook_timeout_seconds)
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code} {response.reason or ''}".strip()
            _release(response)
        except requests.Timeout:
            error = f"no answer within {self.settings.webhook_timeout_seconds:g} s"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        except _Refused:
            pass
        duration = (time.perf_counter() - started) * 1000
        now = self.clock()
        if error is None:
            entry = attempt_entry(doc["attempts"], ACCEPTED, now, status_code=status_code, duration_ms=duration)
            self._settle_success(self.calls, doc, entry, _delivered_event(
                doc, WEBHOOK, doc["event"], [_listed(
                    {"_id": doc["_id"], "category": category, "message": doc["event"]["type"]}, doc["owner_id"],
                    webhook_id=doc["webhook"])], now))
        else:
            entry = attempt_entry(doc["attempts"], FAILED, now, status_code=status_code, error=error,
                                  duration_ms=duration)
            self._settle_failure(self.calls, doc, entry, failed)
        return 1


def _release(response: requests.Response) -> None:
    """Let the call's connection serve the next call to the same receiver: a receiver's answer is its status,
    but its body must be read off the connection before the connection can be reused. A body longer than
    ANSWER_READ is not worth reading: the connection is closed instead."""
    try:
        response.raw.read(ANSWER_READ, decode_content=False)
    finally:
        response.close()


# --- events ---------------------------------------------------------------------------------------------

def _contact(doc: Mapping[str, Any]) -> mail.Contact:
    return mail.Contact(doc["email"], doc.get("name") or "", doc.get("lang") or "he")


def _listed(doc: Mapping[str, Any], recipient: str, **extra: Any) -> dict:
    return {"notification_id": doc["_id"], "recipient_id": recipient, "category": doc["category"],
            "message": doc["message"], **extra}


def _delivered_event(doc: Mapping[str, Any], channel: str, source: Mapping[str, Any], listed: list[dict],
                     at: datetime) -> Event:
    return new_event(DELIVERED_EVENT, source=f"/{SERVICE}", subject=doc["_id"], data={
        "delivery_id": doc["_id"], "channel": channel, "source_event": dict(source),
        "deliveries": listed[:MAX_LISTED], "delivered_at": at.isoformat()},
        branch_id=doc.get("branch_id"), correlation_id=doc.get("correlation_id"))


def _failed_event(doc: Mapping[str, Any], channel: str, notification_id: str, recipient: str, category: str,
                  message: str, source: Mapping[str, Any], attempt: int, reason: str, final: bool, at: datetime,
                  **extra: Any) -> Event:
    return new_event(FAILED_EVENT, source=f"/{SERVICE}", subject=doc["_id"], data={
        "delivery_id": doc["_id"], "channel": channel, "source_event": dict(source),
        "notification_id": notification_id, "recipient_id": recipient, "category": category, "message": message,
        "attempt": attempt, "reason": reason, "final": final, "failed_at": at.isoformat(), **extra},
        branch_id=doc.get("branch_id"), correlation_id=doc.get("correlation_id"))


# --- running it alone -----------------------------------------------------------------------------------

def main() -> None:
    """Only the delivery loop, until SIGTERM or SIGINT (the worker runs it beside its consumer and relay)."""
    settings = load_settings(SERVICE)
    logs.configure(settings.service, settings.log_level)
    db = database_for(settings)
    apply_indexes(db, INDEXES + outbox_indexes(OUTBOX_COLLECTIONS))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    Dispatcher(db, settings).run(stop)


if __name__ == "__main__":
    main()
