"""The notifications service's JSON API: thin routes that hand plain data to the use cases. Every route works
on the inbox and preferences of whoever asks; nobody can name another person's."""
from __future__ import annotations

from flask.views import MethodView

from services.notifications import schemas as s
from services.notifications import services
from shared.web import Blueprint, actor, db

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


blueprints = [inbox, preferences]
