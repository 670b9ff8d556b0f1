"""HTTP shapes of the notifications API (marshmallow): they validate input and document the API."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from services.notifications.domain import CATEGORIES, FREQUENCIES, ID_PATTERN
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
    branch_activity = ma.fields.Nested(CategoryChoiceSchema, required=True)
    account = ma.fields.Nested(CategoryChoiceSchema, required=True)


class CategoriesInSchema(StrictSchema):
    """The categories to set; categories and fields left out take the defaults."""

    my_ideas = ma.fields.Nested(CategoryChoiceInSchema)
    followed_ideas = ma.fields.Nested(CategoryChoiceInSchema)
    volunteering = ma.fields.Nested(CategoryChoiceInSchema)
    branch_activity = ma.fields.Nested(CategoryChoiceInSchema)
    account = ma.fields.Nested(CategoryChoiceInSchema)


class PreferencesSchema(ma.Schema):
    categories = ma.fields.Nested(CategoriesSchema, required=True)


class PreferencesInSchema(StrictSchema):
    categories = ma.fields.Nested(CategoriesInSchema, required=True)
