"""The notifications service's JSON API: thin routes that hand plain data to the use cases. The inbox and
preferences routes work on whoever asks (nobody can name another person's); the webhook routes are for
organization admins and service accounts (other systems)."""
from __future__ import annotations

from flask.views import MethodView

from services.notifications import schemas as s
from services.notifications import services
from shared.web import Blueprint, actor, db, settings

BEARER = [{"bearerAuth": []}]


def store() -> services.Notifications:
    return services.Notifications.of(db())


inbox = Blueprint("inbox", __name__, url_prefix="/inbox",
                  description="The signed-in person's notifications, newest first, in their language")


@inbox.route("")
class Inbox(MethodView):
    @inbox.doc(security=BEARER)
    @inbox.arguments(s.InboxArgsSchema, location="query")
    @inbox.response(200, s.InboxPageSchema)
    def get(self, args):
        """A page of your notifications, newest first; pass `next_cursor` as `after` for the next page."""
        items, cursor = services.inbox(store(), actor(), after=args.get("after"), limit=args["limit"])
        return {"items": items, "next_cursor": cursor}


@inbox.route("/unread-count")
class UnreadCount(MethodView):
    @inbox.doc(security=BEARER)
    @inbox.response(200, s.UnreadCountSchema)
    def get(self):
        """How many of your notifications are unread (for the badge in the frame)."""
        return services.unread_count(store(), actor())


@inbox.route("/read-all")
class ReadAll(MethodView):
    @inbox.doc(security=BEARER)
    @inbox.response(200, s.ReadAllSchema)
    def post(self):
        """Mark all your notifications read."""
        return {"marked": services.mark_all_read(store(), actor())}


@inbox.route("/<notification_id>/read")
class Read(MethodView):
    @inbox.doc(security=BEARER)
    @inbox.response(200, s.NotificationSchema)
    def post(self, notification_id):
        """Mark one of your notifications read (again is harmless)."""
        return services.mark_read(store(), actor(), notification_id)


preferences = Blueprint("preferences", __name__, url_prefix="/preferences",
                        description="How the signed-in person wants to be told, per category and channel")


@preferences.route("")
class Preferences(MethodView):
    @preferences.doc(security=BEARER)
    @preferences.response(200, s.PreferencesSchema)
    def get(self):
        """Your choices per category: inbox, e-mail (at once or a daily digest) and webhook, each on or off."""
        return services.get_preferences(store(), actor())

    @preferences.doc(security=BEARER)
    @preferences.arguments(s.PreferencesInSchema)
    @preferences.response(200, s.PreferencesSchema)
    def put(self, body):
        """Replace your choices; categories and fields left out take the defaults. Critical categories
        (account) always go to the inbox and by e-mail: turning them off is refused."""
        return services.set_preferences(store(), actor(), **body)


webhooks = Blueprint("webhooks", __name__, url_prefix="/webhooks",
                     description="Signed HTTP deliveries of events to other systems (org admins and service accounts)")


@webhooks.before_request
def only_admins():
    """Who may not manage webhooks is told so before anything they sent is looked at (403, not 422)."""
    services.webhook_admin(actor())


@webhooks.route("")
class Webhooks(MethodView):
    @webhooks.doc(security=BEARER)
    @webhooks.arguments(s.WebhookArgsSchema, location="query")
    @webhooks.response(200, s.WebhookPageSchema)
    def get(self, args):
        """Subscriptions (a service account sees its own), oldest first; secrets are never listed."""
        items, cursor = services.webhooks(store(), actor(), after=args.get("after"), limit=args["limit"])
        return {"items": items, "next_cursor": cursor}

    @webhooks.doc(security=BEARER)
    @webhooks.arguments(s.WebhookInSchema)
    @webhooks.response(201, s.WebhookWithSecretSchema)
    def post(self, body):
        """Subscribe a URL to event types. The answer holds the signing secret: it is shown this once."""
        return services.create_webhook(store(), actor(), allow_private=settings().webhook_allow_private, **body)


@webhooks.route("/<webhook_id>")
class WebhookById(MethodView):
    @webhooks.doc(security=BEARER)
    @webhooks.response(200, s.WebhookSchema)
    def get(self, webhook_id):
        """One subscription (without its secret)."""
        return services.get_webhook(store(), actor(), webhook_id)

    @webhooks.doc(security=BEARER)
    @webhooks.arguments(s.WebhookChangeSchema)
    @webhooks.response(200, s.WebhookWithSecretSchema)
    def patch(self, body, webhook_id):
        """Change the URL, event types, description or active; `rotate_secret` answers with a new secret."""
        return services.change_webhook(store(), actor(), webhook_id, allow_private=settings().webhook_allow_private,
                                       **body)

    @webhooks.doc(security=BEARER)
    @webhooks.response(204)
    def delete(self, webhook_id):
        """Stop and delete a subscription; deliveries not made yet are cancelled."""
        services.delete_webhook(store(), actor(), webhook_id)


@webhooks.route("/<webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @webhooks.doc(security=BEARER)
    @webhooks.arguments(s.WebhookDeliveryArgsSchema, location="query")
    @webhooks.response(200, s.WebhookDeliveryPageSchema)
    def get(self, args, webhook_id):
        """The delivery log, newest first: each delivery with every attempt (status code, error, duration)."""
        items, cursor = services.webhook_deliveries(store(), actor(), webhook_id, after=args.get("after"),
                                                    limit=args["limit"], status=args.get("status"))
        return {"items": items, "next_cursor": cursor}


@webhooks.route("/<webhook_id>/deliveries/<delivery_id>/replay")
class Replay(MethodView):
    @webhooks.doc(security=BEARER)
    @webhooks.response(202, s.WebhookDeliverySchema)
    def post(self, webhook_id, delivery_id):
        """Deliver again (a dead delivery, or one the receiver lost) with a fresh budget of attempts; 409 while
        it is still being attempted."""
        return services.replay_delivery(store(), actor(), webhook_id, delivery_id)


blueprints = [inbox, preferences, webhooks]
