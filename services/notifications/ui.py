"""The notifications service's pages, in the shared frame: the inbox (newest first, open one to read it, mark
all read), the preferences form, and for organization admins the webhook subscriptions with their delivery
logs. Forms are checked by the API's own schemas and handed as plain data to the use cases; what they refuse
comes back on the page, in the reader's language."""
from __future__ import annotations

from functools import wraps

import marshmallow as ma
from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import format_datetime, lazy_gettext
from flask_babel import gettext as _

from services.notifications import domain, schemas, services
from services.notifications.api import store
from shared.auth import AuthError, Forbidden
from shared.errors import Conflict, DomainError, NotFound
from shared.web import actor, current_principal, settings
from shared.web.pages import signed_in
from shared.web.i18n import as_utc, current_language

pages = Blueprint("pages", __name__)

PAGE_SIZE = 20
LOG_SIZE = 20
CATEGORY_LABELS = {
    domain.MY_IDEAS: lazy_gettext("My ideas"), domain.FOLLOWED_IDEAS: lazy_gettext("Ideas I follow"),
    domain.VOLUNTEERING: lazy_gettext("Where I volunteer"), domain.MY_FEEDBACK: lazy_gettext("My feedback and surveys"),
    domain.BRANCH_ACTIVITY: lazy_gettext("Branch activity"),
    domain.ACCOUNT: lazy_gettext("My account"),
}
DELIVERY_LABELS = {
    "pending": lazy_gettext("Pending"), "delivered": lazy_gettext("Delivered"), "dead": lazy_gettext("Failed"),
    "cancelled": lazy_gettext("Cancelled"), "accepted": lazy_gettext("Accepted"), "failed": lazy_gettext("Failed"),
    "interrupted": lazy_gettext("Interrupted"),
}
NOTICES = {
    "read-all": lazy_gettext("All your notifications are marked read."),
    "preferences": lazy_gettext("Your choices were saved."),
    "paused": lazy_gettext("The subscription is paused: nothing is sent to it."),
    "resumed": lazy_gettext("The subscription is active again."),
    "deleted": lazy_gettext("The subscription was deleted."),
    "replayed": lazy_gettext("The delivery will be sent again."),
}
FIELD_MESSAGES = {
    "url": lazy_gettext("Give an absolute http:// or https:// address."),
    "event_types": lazy_gettext("Choose at least one event type."),
    "description": lazy_gettext("The description is up to 200 characters."),
}
STATUS_OF = {ma.ValidationError: 422, DomainError: 422, Forbidden: 403, NotFound: 404, Conflict: 409}


def refusal(exc: Exception) -> tuple[str, int]:
    """What a refused form or page says, and its status: fixed refusals are marked N_ where raised."""
    status = next(code for kind, code in STATUS_OF.items() if isinstance(exc, kind))
    if isinstance(exc, ma.ValidationError):
        field = next(iter(exc.normalized_messages()), None)
        return str(FIELD_MESSAGES.get(field, _("Check what you entered."))), status
    if isinstance(exc, NotFound):
        return _("This does not exist, or it is not yours to see."), status
    text = str(exc)
    translated = _(text)
    if translated == text and current_language() != "en" and getattr(exc, "field", None) in FIELD_MESSAGES:
        translated = str(FIELD_MESSAGES[exc.field])
    return translated, status


def when(at) -> str:
    return format_datetime(as_utc(at), "medium")


@pages.app_context_processor
def labels():
    try:
        principal = current_principal()
    except AuthError:  # a broken bearer header: the page shows as to anyone, the route decides the rest
        principal = None
    return {"category_label": lambda c: CATEGORY_LABELS.get(c, c), "when": when,
            "delivery_label": lambda s: DELIVERY_LABELS.get(s, s),
            "viewer_is_admin": bool(principal and principal.is_org_admin)}




def _message(title: str, text: str, status: int):
    return render_template("notifications/message.html", title=title, message=text), status


def _notice() -> str | None:
    notice = NOTICES.get(request.args.get("done", ""))
    return str(notice) if notice else None


# --- the inbox -----------------------------------------------------------------------------------------

def link_of(item: dict) -> str:
    """Where a notification leads: the idea it is about, else the inbox."""
    return f"/ideas/{item['idea_id']}" if item.get("idea_id") else url_for("pages.inbox")


@pages.get("/")
def inbox():
    if current_principal() is None:
        return render_template("home.html")  # what the inbox is, with the frame's sign-in link
    try:
        after = schemas.InboxArgsSchema().load({"after": request.args["after"]}).get("after") \
            if request.args.get("after") else None
        items, cursor = services.inbox(store(), actor(), after=after, limit=PAGE_SIZE, lang=current_language())
    except tuple(STATUS_OF) as exc:
        message, status = refusal(exc)
        return _message(_("Inbox"), message, status)
    more = url_for("pages.inbox", after=cursor) if cursor else None
    return render_template("notifications/inbox.html", items=items, more=more, link_of=link_of,
                           notice=_notice(), section="inbox")


@pages.post("/<notification_id>/open")
@signed_in
def open_notification(notification_id):
    try:
        item = services.mark_read(store(), actor(), notification_id)
    except tuple(STATUS_OF) as exc:
        message, status = refusal(exc)
        return _message(_("Inbox"), message, status)
    return redirect(link_of(item), 303)


@pages.post("/read-all")
@signed_in
def read_all():
    try:
        services.mark_all_read(store(), actor())
    except tuple(STATUS_OF) as exc:
        message, status = refusal(exc)
        return _message(_("Inbox"), message, status)
    return redirect(url_for("pages.inbox", done="read-all"), 303)


# --- preferences ---------------------------------------------------------------------------------------

def _chosen(form) -> dict:
    """The form's checkboxes as the API's body; critical categories are left out (they keep their defaults)."""
    return {"categories": {
        category: {domain.INAPP: f"{category}.inapp" in form, domain.EMAIL: f"{category}.email" in form,
                   "email_frequency": form.get(f"{category}.email_frequency", domain.INSTANT)}
        for category in domain.CATEGORIES if category not in domain.CRITICAL}}


@pages.route("/preferences", methods=["GET", "POST"])
@signed_in
def preferences():
    failure, status = None, 200
    try:
        if request.method == "POST":
            body = schemas.PreferencesInSchema().load(_chosen(request.form))
            services.set_preferences(store(), actor(), **body)
            return redirect(url_for("pages.preferences", done="preferences"), 303)
        chosen = services.get_preferences(store(), actor())
    except tuple(STATUS_OF) as exc:
        failure, status = refusal(exc)
        if status == 403:
            return _message(_("How you are told"), failure, status)
        chosen = services.get_preferences(store(), actor())
    return render_template("notifications/preferences.html", categories=chosen["categories"],
                           order=domain.CATEGORIES, failure=failure, notice=_notice(),
                           section="preferences"), status


# --- webhooks (organization admins) -----------------------------------------------------------------------

def admins_only(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            services.webhook_admin(actor())
        except Forbidden:
            return _message(_("Webhooks"), _("Only organization admins manage webhooks."), 403)
        return view(*args, **kwargs)
    return signed_in(wrapper)


def _webhooks_page(form=None, failure=None, created=None, status=200):
    after = request.args.get("after") or None
    items, cursor = services.webhooks(store(), actor(), after=after, limit=50)
    more = url_for("pages.webhooks", after=cursor) if cursor else None
    return render_template("notifications/webhooks.html", items=items, more=more, form=form or {},
                           event_types=domain.webhook_event_types(), failure=failure, created=created,
                           notice=_notice(), section="webhooks"), status


@pages.route("/webhooks", methods=["GET", "POST"])
@admins_only
def webhooks():
    if request.method == "GET":
        return _webhooks_page()
    form = {"url": request.form.get("url", "").strip(), "description": request.form.get("description", "").strip(),
            "event_types": request.form.getlist("event_types")}
    try:
        created = services.create_webhook(store(), actor(), allow_private=settings().webhook_allow_private,
                                          **schemas.WebhookInSchema().load(form))
    except tuple(STATUS_OF) as exc:
        message, status = refusal(exc)
        return _webhooks_page(form, message, status=status)
    # The secret is shown in this answer only (never stored anywhere the pages could show it again).
    return _webhooks_page(created=created, status=201)


@pages.get("/webhooks/<webhook_id>")
@admins_only
def webhook(webhook_id):
    return _webhook_page(webhook_id)


def _webhook_page(webhook_id: str, failure: str | None = None, status: int = 200):
    try:
        hook = services.get_webhook(store(), actor(), webhook_id)
        after = request.args.get("after") or None
        log, cursor = services.webhook_deliveries(store(), actor(), webhook_id, after=after, limit=LOG_SIZE)
    except tuple(STATUS_OF) as exc:
        message, code = refusal(exc)
        return _message(_("Webhooks"), message, code)
    more = url_for("pages.webhook", webhook_id=webhook_id, after=cursor) if cursor else None
    return render_template("notifications/webhook.html", hook=hook, log=log, more=more, failure=failure,
                           notice=_notice(), section="webhooks"), status


@pages.post("/webhooks/<webhook_id>/active")
@admins_only
def pause_or_resume(webhook_id):
    active = request.form.get("active") == "1"
    try:
        services.change_webhook(store(), actor(), webhook_id, active=active)
    except tuple(STATUS_OF) as exc:
        message, status = refusal(exc)
        return _message(_("Webhooks"), message, status)
    return redirect(url_for("pages.webhook", webhook_id=webhook_id, done="resumed" if active else "paused"), 303)


@pages.post("/webhooks/<webhook_id>/delete")
@admins_only
def delete(webhook_id):
    try:
        services.delete_webhook(store(), actor(), webhook_id)
    except tuple(STATUS_OF) as exc:
        message, status = refusal(exc)
        return _message(_("Webhooks"), message, status)
    return redirect(url_for("pages.webhooks", done="deleted"), 303)


@pages.post("/webhooks/<webhook_id>/deliveries/<delivery_id>/replay")
@admins_only
def replay(webhook_id, delivery_id):
    try:
        services.replay_delivery(store(), actor(), webhook_id, delivery_id)
    except tuple(STATUS_OF) as exc:
        message, status = refusal(exc)
        return _webhook_page(webhook_id, failure=message, status=status)
    return redirect(url_for("pages.webhook", webhook_id=webhook_id, done="replayed"), 303)


blueprints = [pages]
