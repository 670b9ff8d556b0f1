"""HTTP shapes of the notifications API (marshmallow): they validate input and document the API."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from services.notifications.domain import (CATEGORIES, DELIVERY_STATUSES, FREQUENCIES, ID_PATTERN, MAX_URL,
                                           webhook_event_types)
from shared.schemas import StrictSchema, Text

NOTIFICATION_ID = validate.Regexp(ID_PATTERN, error="Not a notification id.")


class InboxArgsSchema(StrictSchema):
    after = Text(validate=NOTIFICATION_ID, metadata={"description": "The next_cursor of the previous page"})
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(1, 100))


class NotificationSchema(ma.Schema):
    id = ma.fields.String(required=True)
    category = ma.fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    message = ma.fields.String(required=True, metadata={"description": "The message's key"})
    title = ma.fields.String(required=True, metadata={"description": "In the recipient's language"})
    body = ma.fields.String(required=True, metadata={"description": "In the recipient's language"})
    idea_id = ma.fields.String(allow_none=True, metadata={"description": "The idea it is about, if any"})
    event_type = ma.fields.String(required=True, metadata={"description": "The event that caused it"})
    created_at = ma.fields.DateTime(required=True, metadata={"description": "When that event happened"})
    read = ma.fields.Boolean(required=True)
    read_at = ma.fields.DateTime(allow_none=True)


class InboxPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(NotificationSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True,
                                   metadata={"description": "Pass as `after` for the next page; null at the end"})


class UnreadCountSchema(ma.Schema):
    unread = ma.fields.Integer(required=True, metadata={"description": "Unread notifications, counted up to 100"})
    capped = ma.fields.Boolean(required=True, metadata={"description": "True: 100 or more (show 99+)"})


class ReadAllSchema(ma.Schema):
    marked = ma.fields.Integer(required=True, metadata={"description": "How many were unread until now"})


# --- preferences ---------------------------------------------------------------------------------------

class CategoryChoiceSchema(ma.Schema):
    inapp = ma.fields.Boolean(required=True, metadata={"description": "In the inbox in Cocreate"})
    email = ma.fields.Boolean(required=True)
    webhook = ma.fields.Boolean(required=True)
    email_frequency = ma.fields.String(required=True, validate=validate.OneOf(FREQUENCIES),
                                       metadata={"description": "instant, or one daily digest"})
    critical = ma.fields.Boolean(required=True,
                                 metadata={"description": "Critical messages always go to the inbox and by e-mail"})


class CategoryChoiceInSchema(StrictSchema):
    inapp = ma.fields.Boolean()
    email = ma.fields.Boolean()
    webhook = ma.fields.Boolean()
    email_frequency = ma.fields.String(validate=validate.OneOf(FREQUENCIES))
    critical = ma.fields.Boolean(metadata={"description": "Read-only; ignored (as GET returns it)"})


class CategoriesSchema(ma.Schema):
    """Every category, with what the person chose."""

    my_ideas = ma.fields.Nested(CategoryChoiceSchema, required=True)
    followed_ideas = ma.fields.Nested(CategoryChoiceSchema, required=True)
    volunteering = ma.fields.Nested(CategoryChoiceSchema, required=True)
    my_feedback = ma.fields.Nested(CategoryChoiceSchema, required=True)
    branch_activity = ma.fields.Nested(CategoryChoiceSchema, required=True)
    account = ma.fields.Nested(CategoryChoiceSchema, required=True)


class CategoriesInSchema(StrictSchema):
    """The categories to set; categories and fields left out take the defaults."""

    my_ideas = ma.fields.Nested(CategoryChoiceInSchema)
    followed_ideas = ma.fields.Nested(CategoryChoiceInSchema)
    volunteering = ma.fields.Nested(CategoryChoiceInSchema)
    my_feedback = ma.fields.Nested(CategoryChoiceInSchema)
    branch_activity = ma.fields.Nested(CategoryChoiceInSchema)
    account = ma.fields.Nested(CategoryChoiceInSchema)


class PreferencesSchema(ma.Schema):
    categories = ma.fields.Nested(CategoriesSchema, required=True)


class PreferencesInSchema(StrictSchema):
    categories = ma.fields.Nested(CategoriesInSchema, required=True)


# --- webhooks ------------------------------------------------------------------------------------------

WEBHOOK_URL = [validate.Length(max=MAX_URL), validate.URL(schemes={"http", "https"}, require_tld=False,
                                                          error="Not an absolute http(s) URL.")]
EVENT_TYPES = {"description": "Event types to receive (those of the topics the notifications service reads)"}


class EventTypesField(ma.fields.List):
    def __init__(self, **kwargs):
        super().__init__(ma.fields.String(validate=validate.OneOf(webhook_event_types())),
                         validate=validate.Length(1, 50), metadata=EVENT_TYPES, **kwargs)


class WebhookInSchema(StrictSchema):
    url = Text(required=True, validate=WEBHOOK_URL,
               metadata={"description": "Where each event is POSTed (http or https)"})
    event_types = EventTypesField(required=True)
    description = Text(load_default="", validate=validate.Length(max=200))
    active = ma.fields.Boolean(load_default=True, metadata={"description": "False: nothing is sent (paused)"})


class WebhookChangeSchema(StrictSchema):
    url = Text(validate=WEBHOOK_URL)
    event_types = EventTypesField()
    description = Text(validate=validate.Length(max=200))
    active = ma.fields.Boolean()
    rotate_secret = ma.fields.Boolean(load_default=False, metadata={
        "description": "True: a new signing secret, shown in this answer only"})


class WebhookSchema(ma.Schema):
    id = ma.fields.String(required=True)
    url = ma.fields.String(required=True)
    event_types = ma.fields.List(ma.fields.String(), required=True)
    description = ma.fields.String(required=True)
    active = ma.fields.Boolean(required=True)
    created_by = ma.fields.String(required=True, metadata={"description": "The admin or service account"})
    created_at = ma.fields.DateTime(required=True)
    updated_at = ma.fields.DateTime(allow_none=True)


class WebhookWithSecretSchema(WebhookSchema):
    secret = ma.fields.String(metadata={
        "description": "Signs every delivery (X-Cocreate-Signature); shown only when made: keep it now"})


class WebhookPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(WebhookSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True,
                                   metadata={"description": "Pass as `after` for the next page; null at the end"})


class WebhookArgsSchema(StrictSchema):
    after = Text(validate=validate.Regexp(r"^wh_[0-9a-f]{16}$", error="Not a webhook id."),
                 metadata={"description": "The next_cursor of the previous page"})
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(1, 100))


class AttemptSchema(ma.Schema):
    attempt = ma.fields.Integer(required=True)
    outcome = ma.fields.String(required=True, validate=validate.OneOf(("accepted", "failed", "interrupted")),
                               metadata={"description": "interrupted: the worker stopped during it (outcome unknown)"})
    at = ma.fields.DateTime(required=True)
    status_code = ma.fields.Integer(allow_none=True, metadata={"description": "The receiver's HTTP status"})
    error = ma.fields.String(allow_none=True)
    duration_ms = ma.fields.Float(allow_none=True)


class WebhookDeliverySchema(ma.Schema):
    id = ma.fields.String(required=True)
    webhook_id = ma.fields.String(required=True)
    event_id = ma.fields.String(required=True, metadata={"description": "Also sent as X-Cocreate-Event-Id"})
    event_type = ma.fields.String(required=True)
    status = ma.fields.String(required=True, validate=validate.OneOf(DELIVERY_STATUSES), metadata={
        "description": "pending (being attempted), delivered, dead (no attempts left; replayable), cancelled"})
    attempts = ma.fields.Integer(required=True)
    replays = ma.fields.Integer(required=True)
    created_at = ma.fields.DateTime(required=True, metadata={"description": "When the event happened"})
    next_attempt_at = ma.fields.DateTime(allow_none=True)
    delivered_at = ma.fields.DateTime(allow_none=True)
    log = ma.fields.List(ma.fields.Nested(AttemptSchema), required=True, metadata={"description": "Every attempt"})


class WebhookDeliveryPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(WebhookDeliverySchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True,
                                   metadata={"description": "Pass as `after` for the next page; null at the end"})


class WebhookDeliveryArgsSchema(StrictSchema):
    after = Text(validate=NOTIFICATION_ID, metadata={"description": "The next_cursor of the previous page"})
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(1, 100))
    status = ma.fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
