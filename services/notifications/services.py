"""Notifications use cases: the fan-out of an event to everyone the rules reach (the inbox, and e-mails to send
at once or hold for a digest) and to the webhooks subscribed to it, what the service learns of people and ideas,
a person's inbox and preferences, erasure, and the webhook subscriptions other systems manage. The API, the
pages and the handlers stay thin; sending is the worker's delivery loop (delivery.py)."""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping, Protocol

from pymongo.database import Database

from services.notifications import SERVICE, domain, messages, rules
from services.notifications.domain import DAILY, DEFAULT_PROFILE, EMAIL, INAPP, STAFF_PREFIX, WEBHOOK, Profile
from services.notifications.repository import (DELIVERIES, UNREAD_CAP, Audiences, Deliveries, Emails, Ideas, Inbox,
                                               People, Recipients, WebhookDeliveries, Webhooks, branch_names)
from shared import outbox
from shared.auth import ORG_ADMIN, STAFF_ROLES, Actor, Forbidden, Principal, require_signed_in
from shared.errors import N_, Conflict, NotFound
from shared.events import Event, new_event

# Notifications inserted per command: small enough for the store (see docs/store-backend.md), big enough
# that 10,000 followers take 20 round trips. One delivery record, and one delivered event, per batch.
FANOUT_BATCH = 500
RECORDS_BATCH = 50  # delivery records per insert (each lists up to FANOUT_BATCH recipients)
DELIVERED = "cocreate.notification.delivered.v1"
FAILED = "cocreate.notification.failed.v1"
PERSON_EVENTS = "cocreate.person."
_ID = re.compile(domain.ID_PATTERN)
_WEBHOOK_ID = re.compile(domain.WEBHOOK_ID_PATTERN)


@dataclass
class Notifications:
    """The service's storage, as the use cases see it."""

    db: Database
    inbox: Inbox
    deliveries: Deliveries
    audiences: Audiences
    recipients: Recipients
    people: People
    ideas: Ideas
    emails: Emails
    webhooks: Webhooks
    webhook_deliveries: WebhookDeliveries

    @classmethod
    def of(cls, db: Database) -> "Notifications":
        return cls(db, Inbox(db), Deliveries(db), Audiences(db), Recipients(db), People(db), Ideas(db), Emails(db),
                   Webhooks(db), WebhookDeliveries(db))

    # rules.Known: what the rules ask of the read models
    def idea(self, idea_id: str) -> Mapping[str, Any] | None:
        return self.ideas.get(idea_id)

    def branch_names(self, branch_id: str) -> Mapping[str, str] | None:
        return branch_names(self.db, branch_id)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- the fan-out ---------------------------------------------------------------------------------------

def notify(s: Notifications, event: Event) -> None:
    """Put a notification in the inbox of everyone the rules reach who wants it, and queue the e-mails of those
    who want one (at once, or held for their daily digest). The writes are made before it returns, or, within
    the consumer's batch scope, with those of the whole polled batch.

    Idempotent by construction: each notification's `_id` comes from the event, the recipient and the
    channel, so applying an event again inserts only duplicates, which the store refuses."""
    reaches = rules.plan(event, s)
    if not reaches:
        return
    at = domain.event_instant(event.time)
    told = rules.actors(event)  # nobody is told of what they did; each person once per event
    if any(reach.rule.not_staff for reach in reaches):
        told |= {person_id for person_id, _ in s.audiences.members(domain.staff_of(event.data.get("branch_id")))}
    docs, mails, contacts = [], [], {}
    for reach in reaches:
        for person_id, profile in _reached(s, reach.who):
            if person_id in told:
                continue
            told.add(person_id)
            if not profile.reachable:
                continue
            if domain.wants(profile.prefs, reach.rule.category, INAPP):
                docs.append(_notification(event, at, person_id, reach))
            mode = domain.email_mode(profile.prefs, reach.rule.category)
            if mode:
                mails.append(_email(event, at, person_id, reach, mode))
                if profile.contact:
                    contacts[mails[-1]["_id"]] = profile.contact
    batched = _BATCH.get()
    writes = batched if batched is not None else FanoutWrites()
    # Batches in id order: applied again, the event forms the same batches, so their records are duplicates.
    docs.sort(key=lambda d: d["_id"])
    records = []
    for number, start in enumerate(range(0, len(docs), FANOUT_BATCH)):
        batch = docs[start:start + FANOUT_BATCH]
        record, delivered = _delivery(event, INAPP, number, batch)
        records.append((record, [delivered]))
    writes.add(docs, records, mails, contacts)
    if batched is None:
        writes.make(s)


@dataclass
class FanoutWrites:
    """What fan-outs write: inbox entries, then the delivery records that tell of them (with their delivered
    events, so an event never comes before its entries), then e-mails to send. The store's cost is mostly per
    command, so the consumer makes them once for a polled batch of events (batch_scope): under load, when
    batches grow, a change costs one insert of each kind shared with the others, not three of its own."""

    inbox: list[dict] = field(default_factory=list)
    records: list[tuple[dict, list[Event]]] = field(default_factory=list)
    emails: list[dict] = field(default_factory=list)
    contacts: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # e-mail id -> the contact read with it
    # The consumer handles fan-outs of different ideas at the same time (handlers.CONCURRENCY): they add here
    # under this lock.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, inbox: list[dict], records: list[tuple[dict, list[Event]]], emails: list[dict],
            contacts: Mapping[str, Mapping[str, Any]]) -> None:
        """One event's fan-out: its inbox entries, the records that tell of them, its e-mails and their contacts."""
        with self.lock:
            self.inbox += inbox
            self.records += records
            self.emails += emails
            self.contacts.update(contacts)

    def make(self, s: Notifications) -> None:
        """Write everything held, and hold nothing after. E-mails to send at once go, claimed, to this process's
        delivery loop when it takes them (send_at_once_by)."""
        for start in range(0, len(self.inbox), FANOUT_BATCH):
            s.inbox.add(self.inbox[start:start + FANOUT_BATCH])
        for start in range(0, len(self.records), RECORDS_BATCH):
            s.deliveries.record(self.records[start:start + RECORDS_BATCH])
        if self.records and not outbox.at_once():
            outbox.written(DELIVERIES)  # their delivered events go out now, not at the relay's next look
        handover = _HANDOVER
        for start in range(0, len(self.emails), FANOUT_BATCH):
            mails = self.emails[start:start + FANOUT_BATCH]
            if handover is None:
                s.emails.add(mails)
                continue
            s.emails.add([m for m in mails if m["status"] != domain.PENDING])  # held for a digest
            at_once = [m for m in mails if m["status"] == domain.PENDING]
            if at_once:
                owner, until = handover.claim()
                handover.take([(doc, self.contacts.get(doc["_id"]))
                               for doc in s.emails.add_claimed(at_once, owner, until)])
        self.inbox, self.records, self.emails, self.contacts = [], [], [], {}


class Handover(Protocol):
    """A delivery loop in this process that takes e-mails to send at once as they are made (delivery.Dispatcher)."""

    def claim(self) -> tuple[str, datetime]:
        """Who claims them, and until when."""

    def take(self, mails: list[tuple[dict, Mapping[str, Any] | None]]) -> None:
        """The claimed e-mails that were new, each with its recipient's contact when the fan-out read it: the
        loop's to send."""


_HANDOVER: Handover | None = None


def send_at_once_by(handover: Handover | None) -> None:
    """Have the e-mails the fan-outs make to send at once stored already claimed by `handover` and given to it,
    with the contact read with the recipient's profile, instead of left for a delivery loop to find, claim and
    look up (three store commands less an e-mail; the worker's delivery loop, beside its consumer). None: back
    to leaving them to be found."""
    global _HANDOVER
    _HANDOVER = handover


_BATCH: ContextVar[FanoutWrites | None] = ContextVar("notifications_fanout_writes", default=None)


@contextmanager
def batch_scope(db: Database) -> Iterator[None]:
    """The consumer's handling of one polled batch: the fan-outs' writes are made together at its end (before
    the runner records the events and commits). Nothing is written if the handling fails: the batch is
    polled again and, being idempotent, handled again."""
    writes = FanoutWrites()
    token = _BATCH.set(writes)
    try:
        yield
    finally:
        _BATCH.reset(token)
    writes.make(Notifications.of(db))


def write_batched(s: Notifications) -> None:
    """Make the fan-out writes the consumer's batch holds so far: a handler that removes what fan-outs wrote
    (erasure) must find it written, or an earlier event of its batch would bring it back after."""
    batched = _BATCH.get()
    if batched is not None:
        batched.make(s)


def _reached(s: Notifications, who: rules.Named | rules.Group) -> Iterator[tuple[str, Profile]]:
    if isinstance(who, rules.Group):
        yield from s.audiences.members(who.audience)
    else:
        for person_id in who.people:
            yield person_id, s.recipients.get(person_id)


def _notification(event: Event, at: datetime, person_id: str, reach: rules.Reach) -> dict:
    """An inbox entry, as small as it can be (the store's cost grows with every value; its time is in its id)."""
    return {"_id": domain.notification_id(event.id, at, person_id, INAPP),
            "box": domain.box(person_id, domain.month_of(at)), "recipient": person_id, "unread": person_id,
            "category": reach.rule.category, "message": reach.rule.message,
            "params": reach.params,
            "event": {"id": event.id, "type": event.type}}


def _email(event: Event, at: datetime, person_id: str, reach: rules.Reach, mode: str) -> dict:
    """An e-mail to send (its delivery record too): pending at once, or held for the person's daily digest. The
    address and language are looked up when it is sent, so they are the latest the directory told."""
    return {"_id": domain.notification_id(event.id, at, person_id, EMAIL), "kind": mode, "recipient": person_id,
            "category": reach.rule.category, "message": reach.rule.message, "params": reach.params,
            "event": _source(event), "branch_id": event.branch_id, "correlation_id": event.correlation_id,
            "status": domain.HELD if mode == DAILY else domain.PENDING, "due": at, "attempts": 0}


def _source(event: Event) -> dict:
    return {"id": event.id, "type": event.type, "subject": event.subject}


def queue_webhooks(s: Notifications, event: Event) -> int:
    """A delivery for each active webhook subscribed to the event's type; returns how many were new. The body is
    the CloudEvent exactly as it came; the `_id` comes from the event and the subscription (idempotent)."""
    hooks = s.webhooks.subscribed(event.type)
    if not hooks:
        return 0
    at = domain.event_instant(event.time)
    month = domain.month_of(at)
    # An event about a person carries their name and e-mail address: noted, so that erasure finds it.
    about = {"person": event.data.get("person_id") or event.subject} if event.type.startswith(PERSON_EVENTS) else {}
    return s.webhook_deliveries.add([
        {"_id": domain.notification_id(event.id, at, hook["_id"], WEBHOOK), "webhook": hook["_id"],
         "box": domain.box(hook["_id"], month), "owner_id": hook["created_by"], "event": _source(event),
         "body": event.value, "branch_id": event.branch_id, "correlation_id": event.correlation_id,
         "status": domain.PENDING, "due": at, "attempts": 0, **about}
        for hook in hooks])


def _delivery(event: Event, channel: str, number: int, batch: list[dict]) -> tuple[dict, Event]:
    """The record of one delivered batch and the event that tells of it."""
    record_id = domain.delivery_id(event.id, channel, number)
    delivered_at = _now()
    record = {"_id": record_id, "channel": channel, "status": "delivered", "event_id": event.id,
              "event_type": event.type, "event_time": event.time, "recipients": [d["recipient"] for d in batch],
              "at": delivered_at}
    delivered = new_event(DELIVERED, source=f"/{SERVICE}", subject=record_id, data={
        "delivery_id": record_id, "channel": channel,
        "source_event": {"id": event.id, "type": event.type, "subject": event.subject},
        "deliveries": [{"notification_id": d["_id"], "recipient_id": d["recipient"], "category": d["category"],
                        "message": d["message"]} for d in batch],
        "delivered_at": delivered_at.isoformat()},
        branch_id=event.branch_id, correlation_id=event.correlation_id)
    return record, delivered


# --- audiences and profiles ----------------------------------------------------------------------------
# A member's copy of their profile (in the audience's chunk) must end up as the latest profile whatever
# runs at the same time: a join (the worker, on a follow event), a preference change (the API), a
# deactivation (the worker, on a person event, maybe in another process). Each writes its copy and then
# checks the profile's version; if the profile changed meanwhile, it writes the newer one again.

def join(s: Notifications, audience: str, person_id: str) -> None:
    """Add a person to a group (followers, volunteers, a branch's staff). Most people have the default
    profile: they are added with it, then the audience is noted on their profile, which answers with the
    profile as it is now; only a different one is written again (and checked)."""
    s.audiences.put(audience, person_id, DEFAULT_PROFILE)
    profile = s.recipients.enter(person_id, audience)
    if profile.default:
        return
    while not profile.erased:
        s.audiences.put(audience, person_id, profile)
        latest = s.recipients.get(person_id)
        if latest.version == profile.version:
            return
        profile = latest
    leave(s, audience, person_id)  # erased: nothing of them is kept


def leave(s: Notifications, audience: str, person_id: str) -> None:
    s.audiences.remove(audience, person_id)
    s.recipients.leave(person_id, audience)


def change_profile(s: Notifications, person_id: str, **fields: Any) -> Profile:
    """Change a person's delivery profile (preferences, reachable), then its copies in their audiences."""
    profile, audiences = s.recipients.change(person_id, **fields)
    while True:
        for audience in audiences:
            s.audiences.refresh(audience, person_id, profile)
        latest, audiences = s.recipients.get_with_audiences(person_id)
        if latest.version == profile.version:
            return profile
        profile = latest


# --- what the service learns from other services -------------------------------------------------------

PERSON_FIELDS = ("kind", "lang", "email", "home_branch", "org_roles", "branch_roles", "active")


def learn_person(s: Notifications, event: Event) -> None:
    """person.registered/updated/roles_changed/deactivated: the person as they are now; whether they can be
    reached; and the branches whose staff they are (to tell them of new ideas there)."""
    data = event.data
    person_id = data.get("person_id") or event.subject
    deactivated = event.type == "cocreate.person.deactivated.v1"
    fields = {"active": False} if deactivated else {
        **{name: data.get(name) for name in PERSON_FIELDS}, "name": data.get("display_name", "")}
    if not s.people.learn(person_id, fields, event.time):
        return  # we know a newer state already, or the person was erased
    # One write or read of the person's delivery record gives their profile and audiences for what follows.
    profile, audiences = s.recipients.get_with_audiences(person_id) if deactivated else s.recipients.set_contact(
        person_id, {"email": fields.get("email"), "name": fields["name"], "lang": fields.get("lang")})
    if profile.active != fields["active"]:
        change_profile(s, person_id, active=fields["active"])  # the audiences stay as they are
    if deactivated:
        return
    wanted = {domain.staff_of(branch) for branch, roles in (data.get("branch_roles") or {}).items()
              if set(roles) & set(STAFF_ROLES)}
    if ORG_ADMIN in (data.get("org_roles") or ()):
        wanted.add(domain.staff_of(None))
    current = {a for a in audiences if a.startswith(STAFF_PREFIX)}
    for audience in sorted(wanted - current):
        join(s, audience, person_id)
    for audience in sorted(current - wanted):
        leave(s, audience, person_id)


IDEA_FIELDS = {
    "cocreate.idea.submitted.v1": ("title", "branch_id", "author_id", "status"),
    "cocreate.idea.edited.v1": ("title", "branch_id"),
}


def learn_idea(s: Notifications, event: Event) -> None:
    """Titles, branches, authors and statuses of ideas, for the messages and to find an idea's author."""
    data = event.data
    if event.type in IDEA_FIELDS:
        fields = {name: data.get(name) for name in IDEA_FIELDS[event.type]}
    elif event.type == "cocreate.idea.status_changed.v1":
        fields = {"status": data["to"]}
    elif event.type == "cocreate.idea.merged.v1":
        fields = {"status": "merged", "merged_into": data["into_idea_id"]}
    elif event.type == "cocreate.idea.unmerged.v1":
        fields = {"status": data["status"], "merged_into": None}
    else:
        return
    s.ideas.learn(data["idea_id"], fields, event.time)


def forget_person(s: Notifications, person_id: str, as_of: str) -> None:
    """person.erased: their inbox, delivery records, preferences, memberships and contact data go; a
    tombstone keeps later events from bringing any of it back."""
    write_batched(s)
    _, audiences = s.recipients.change(person_id, prefs=None, active=False, erased=True, contact=None)
    for audience in audiences:
        leave(s, audience, person_id)
    s.inbox.forget(person_id)
    s.deliveries.forget(person_id)
    s.emails.forget(person_id)
    s.webhook_deliveries.forget(person_id)
    s.people.erase(person_id, as_of)
    s.ideas.forget_author(person_id)


# --- a person's inbox ----------------------------------------------------------------------------------

def _person(actor: Actor) -> Principal:
    principal = require_signed_in(actor.principal)
    if principal.kind != "person":
        raise Forbidden(N_("Inboxes belong to people; service accounts receive webhooks."))
    return principal


def _shown(doc: Mapping[str, Any], lang: str) -> dict:
    title, body = messages.render(doc["message"], doc.get("params") or {}, lang)
    return {"id": doc["_id"], "category": doc["category"], "message": doc["message"], "title": title, "body": body,
            "idea_id": (doc.get("params") or {}).get("idea_id"), "event_type": doc["event"]["type"],
            "created_at": domain.time_of(doc["_id"]), "read": "unread" not in doc, "read_at": doc.get("read_at")}


def _language(s: Notifications, principal: Principal) -> str:
    """The recipient's language as the directory last told it, else as their token says."""
    return messages.language(s.people.language(principal.id) or principal.lang)


def inbox(s: Notifications, actor: Actor, *, after: str | None, limit: int,
          lang: str | None = None) -> tuple[list[dict], str | None]:
    """A page of the person's inbox, in `lang` (a page's language) or else the person's own."""
    principal = _person(actor)
    docs, more = s.inbox.page(principal.id, after=after, limit=limit, now=_now())
    lang = messages.language(lang) if lang else _language(s, principal)
    return [_shown(d, lang) for d in docs], (docs[-1]["_id"] if more and docs else None)


def unread_count(s: Notifications, actor: Actor) -> dict:
    count = s.inbox.unread(_person(actor).id)
    return {"unread": count, "capped": count >= UNREAD_CAP}


def mark_read(s: Notifications, actor: Actor, notification_id: str) -> dict:
    principal = _person(actor)
    doc = s.inbox.mark_read(principal.id, notification_id, _now()) if _ID.match(notification_id) else None
    if doc is None:  # unknown, or someone else's: the same answer, so ids cannot be probed
        raise NotFound(f"No notification {notification_id}.")
    return _shown(doc, _language(s, principal))


def mark_all_read(s: Notifications, actor: Actor) -> int:
    return s.inbox.mark_all_read(_person(actor).id, _now())


# --- preferences ---------------------------------------------------------------------------------------

def _shown_preferences(stored: Mapping[str, Any] | None) -> dict:
    return {"categories": {category: dict(chosen, critical=category in domain.CRITICAL)
                           for category, chosen in domain.preferences(stored).items()}}


def get_preferences(s: Notifications, actor: Actor) -> dict:
    return _shown_preferences(s.recipients.get(_person(actor).id).prefs)


def set_preferences(s: Notifications, actor: Actor, *, categories: Mapping[str, Mapping[str, Any]]) -> dict:
    """Replace a person's preferences (categories left out take the defaults)."""
    principal = _person(actor)
    chosen = domain.choose(categories)
    profile = change_profile(s, principal.id, prefs=chosen)
    return _shown_preferences(profile.prefs)


# --- webhook subscriptions (other systems) --------------------------------------------------------------

def webhook_admin(actor: Actor) -> Principal:
    """Organization admins and service accounts manage webhooks; anyone else is refused."""
    principal = require_signed_in(actor.principal)
    if principal.kind != "service" and not principal.is_org_admin:
        raise Forbidden(N_("Webhooks are managed by organization admins and service accounts."))
    return principal


def _webhook(s: Notifications, principal: Principal, webhook_id: str) -> dict:
    """A subscription the asker may manage: org admins any, a service account its own."""
    doc = s.webhooks.get(webhook_id) if _WEBHOOK_ID.match(webhook_id) else None
    if doc is None or (principal.kind == "service" and doc["created_by"] != principal.id):
        raise NotFound(f"No webhook {webhook_id}.")
    return doc


def _shown_webhook(doc: Mapping[str, Any]) -> dict:
    return {"id": doc["_id"], "url": doc["url"], "event_types": doc["event_types"],
            "description": doc.get("description", ""), "active": doc["active"], "created_by": doc["created_by"],
            "created_at": doc["created_at"], "updated_at": doc.get("updated_at")}


def webhooks(s: Notifications, actor: Actor, *, after: str | None, limit: int) -> tuple[list[dict], str | None]:
    principal = webhook_admin(actor)
    docs, more = s.webhooks.page(after=after, limit=limit,
                                 created_by=principal.id if principal.kind == "service" else None)
    return [_shown_webhook(d) for d in docs], (docs[-1]["_id"] if more and docs else None)


def create_webhook(s: Notifications, actor: Actor, *, url: str, event_types: list[str], description: str = "",
                   active: bool = True, allow_private: bool = False) -> dict:
    """Subscribe a URL to event types; the answer holds the signing secret, which is never shown again.
    `allow_private`: the deployment lets webhooks reach non-public addresses (development)."""
    principal = webhook_admin(actor)
    now = _now()
    doc = {"_id": domain.new_webhook_id(), "url": domain.check_webhook_url(url, allow_private=allow_private),
           "event_types": sorted(set(event_types)), "description": description, "active": active,
           "secret": domain.new_secret(), "created_by": principal.id, "created_at": now}
    s.webhooks.add(doc)
    return dict(_shown_webhook(doc), secret=doc["secret"])


def get_webhook(s: Notifications, actor: Actor, webhook_id: str) -> dict:
    return _shown_webhook(_webhook(s, webhook_admin(actor), webhook_id))


def change_webhook(s: Notifications, actor: Actor, webhook_id: str, *, rotate_secret: bool = False,
                   allow_private: bool = False, **changes: Any) -> dict:
    """Change a subscription's URL, event types, description or whether it is active; `rotate_secret` makes a
    new secret (shown in this answer only; deliveries are signed with it from now on)."""
    principal = webhook_admin(actor)
    _webhook(s, principal, webhook_id)
    fields: dict[str, Any] = {"updated_at": _now()}
    if "url" in changes:
        fields["url"] = domain.check_webhook_url(changes["url"], allow_private=allow_private)
    if "event_types" in changes:
        fields["event_types"] = sorted(set(changes["event_types"]))
    fields.update({name: changes[name] for name in ("description", "active") if name in changes})
    if rotate_secret:
        fields["secret"] = domain.new_secret()
    doc = s.webhooks.change(webhook_id, fields)
    if doc is None:
        raise NotFound(f"No webhook {webhook_id}.")
    shown = _shown_webhook(doc)
    return dict(shown, secret=doc["secret"]) if rotate_secret else shown


def delete_webhook(s: Notifications, actor: Actor, webhook_id: str) -> None:
    """Nothing more is sent; deliveries not made yet are cancelled when their turn comes."""
    _webhook(s, webhook_admin(actor), webhook_id)
    s.webhooks.remove(webhook_id, _now())


def _shown_delivery(doc: Mapping[str, Any]) -> dict:
    pending = doc["status"] == domain.PENDING
    return {"id": doc["_id"], "webhook_id": doc["webhook"], "event_id": doc["event"]["id"],
            "event_type": doc["event"]["type"], "status": doc["status"], "attempts": doc.get("attempts", 0),
            "created_at": domain.time_of(doc["_id"]), "next_attempt_at": doc.get("due") if pending else None,
            "delivered_at": doc.get("delivered_at"), "replays": doc.get("replays", 0), "log": doc.get("log", [])}


def webhook_deliveries(s: Notifications, actor: Actor, webhook_id: str, *, after: str | None, limit: int,
                       status: str | None = None) -> tuple[list[dict], str | None]:
    """A subscription's deliveries, newest first, each with the log of its attempts."""
    _webhook(s, webhook_admin(actor), webhook_id)
    docs, more = s.webhook_deliveries.page(webhook_id, after=after, limit=limit, now=_now(), status=status)
    return [_shown_delivery(d) for d in docs], (docs[-1]["_id"] if more and docs else None)


def replay_delivery(s: Notifications, actor: Actor, webhook_id: str, delivery_id: str) -> dict:
    """Deliver again (a dead delivery, or one the receiver lost), with a fresh budget of attempts."""
    principal = webhook_admin(actor)
    _webhook(s, principal, webhook_id)
    doc = s.webhook_deliveries.get(webhook_id, delivery_id) if _ID.match(delivery_id) else None
    if doc is None:
        raise NotFound(f"No delivery {delivery_id} of webhook {webhook_id}.")
    if doc["status"] == domain.PENDING:
        raise Conflict(N_("This delivery is still being attempted; replay it once it is delivered or dead."))
    if "body" not in doc:
        raise Conflict(N_("This delivery told of a person who was erased since; it cannot be sent again."))
    replayed = s.webhook_deliveries.replay(doc, principal.id, _now())
    if replayed is None:
        raise Conflict(N_("This delivery changed meanwhile; look at it again."))
    return _shown_delivery(replayed)
