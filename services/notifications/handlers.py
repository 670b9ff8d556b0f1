"""Events the notifications service consumes: what it keeps of them (branches, people, ideas, who supports,
follows or volunteers for each idea), then the fan-out of whatever the rules say concerns someone (rules.py), and, for
every event type a webhook may subscribe to, a delivery to each subscription.

The fan-out and the webhook queue are idempotent by construction (every notification's, e-mail's and delivery's
id comes from the event), and what is learnt of ideas keeps the newest: their events skip the consumer's
processed-events record. Memberships (a follow, then an unfollow) are not safe to replay out of order, nor
are people's audiences: their events keep it."""
from __future__ import annotations

from pymongo.database import Database

from services.notifications import domain, services
from services.notifications.services import Notifications
from shared.consumer import Handler, Handlers
from shared.events import Event
from shared.readmodels import keep_branches

# Fan-outs of different ideas in one polled batch are handled this many at a time: each waits on the store for
# the idea, its audiences and its recipients' profiles (three round trips an event, which FerretDB cannot serve
# as one read for many ids: `$in` is not pushed down to an index). Their writes are still made together, at the
# end of the batch.
CONCURRENCY = 4
handlers = Handlers(batch_scope=services.batch_scope, concurrency=CONCURRENCY)
keep_branches(handlers)


@handlers.on("cocreate.person.registered.v1", "cocreate.person.updated.v1", "cocreate.person.roles_changed.v1",
             "cocreate.person.deactivated.v1")
def person_changed(db: Database, event: Event) -> None:
    s = Notifications.of(db)
    services.learn_person(s, event)
    services.notify(s, event)


@handlers.on("cocreate.person.erased.v1")
def person_erased(db: Database, event: Event) -> None:
    services.forget_person(Notifications.of(db), event.data["person_id"], event.time)


@handlers.on("cocreate.idea.submitted.v1", "cocreate.idea.edited.v1", "cocreate.idea.status_changed.v1",
             "cocreate.idea.merged.v1", "cocreate.idea.unmerged.v1", "cocreate.idea.adopted.v1",
             "cocreate.idea.flagged.v1", "cocreate.comment.posted.v1", idempotent=True)
def idea_changed(db: Database, event: Event) -> None:
    s = Notifications.of(db)
    services.learn_idea(s, event)
    services.notify(s, event)


@handlers.on("cocreate.survey.opened.v1", "cocreate.feedback.submitted.v1", "cocreate.feedback.replied.v1",
             idempotent=True)
def feedback_changed(db: Database, event: Event) -> None:
    services.notify(Notifications.of(db), event)


GROUPS = {
    "cocreate.vote.cast.v1": (domain.supporters_of, True),
    "cocreate.vote.withdrawn.v1": (domain.supporters_of, False),
    "cocreate.idea.followed.v1": (domain.followers_of, True),
    "cocreate.idea.unfollowed.v1": (domain.followers_of, False),
    "cocreate.volunteer.joined.v1": (domain.volunteers_of, True),
    "cocreate.volunteer.left.v1": (domain.volunteers_of, False),
}


@handlers.on(*GROUPS)
def membership_changed(db: Database, event: Event) -> None:
    group, joined = GROUPS[event.type]
    s = Notifications.of(db)
    audience, person_id = group(event.data["idea_id"]), event.data["person_id"]
    if joined:
        services.join(s, audience, person_id)
    else:
        services.leave(s, audience, person_id)


def _then_webhooks(handler: Handler | None) -> Handler:
    """The event's own handling (if any), then its webhook deliveries: if queueing them fails, the consumer
    retries the whole, and both parts are idempotent."""

    def handle(db: Database, event: Event) -> None:
        if handler is not None:
            handler(db, event)
        services.queue_webhooks(Notifications.of(db), event)

    handle.__name__ = getattr(handler, "__name__", "webhooks_only")
    return handle


for _type in domain.webhook_event_types():
    if _type not in handlers.by_type:
        handlers.idempotent.add(_type)  # queueing webhook deliveries is, like the fan-out, keyed by the event
    handlers.by_type[_type] = _then_webhooks(handlers.by_type.get(_type))
