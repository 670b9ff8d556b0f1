"""HTTP shapes of the ideas API (marshmallow): they validate input and document the API."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from services.ideas.catalog import SORTS
from services.ideas.domain import AGE_GROUPS, CHANNELS, REASON_CODES, STATUSES
from shared.schemas import CursorArgsSchema, CursorPageSchema, StrictSchema, Text

ID = validate.Length(1, 64)
CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$", error="1-32 letters, digits, '-' or '_'.")
Tag = lambda: Text(validate=validate.Length(1, 40))  # noqa: E731


class OnBehalfSchema(StrictSchema):
    """A client who gave the idea to a staff member (in person, by phone, at a kiosk)."""

    name = Text(load_default="", validate=validate.Length(0, 120),
                metadata={"description": "How the client wants to be named (may be empty)"})
    consent = ma.fields.Boolean(required=True, metadata={"description": "The client agreed that staff enter it"})


class IdeaCreateSchema(StrictSchema):
    title = Text(required=True, validate=validate.Length(3, 140))
    description = Text(required=True, validate=validate.Length(1, 5000))
    branch_id = Text(required=True, allow_none=True, validate=ID,
                     metadata={"description": "The branch the idea is for; null for an organization-wide idea"})
    tags = ma.fields.List(Tag(), load_default=list, validate=validate.Length(max=8))
    age_groups = ma.fields.List(ma.fields.String(validate=validate.OneOf(AGE_GROUPS)), load_default=list,
                                validate=validate.Length(max=len(AGE_GROUPS)))
    population_groups = ma.fields.List(Text(validate=CODE), load_default=list, validate=validate.Length(max=10))
    channel = ma.fields.String(load_default="web", validate=validate.OneOf(CHANNELS))
    on_behalf_of = ma.fields.Nested(OnBehalfSchema, load_default=None, allow_none=True)


class IdeaUpdateSchema(StrictSchema):
    title = Text(validate=validate.Length(3, 140))
    description = Text(validate=validate.Length(1, 5000))
    tags = ma.fields.List(Tag(), validate=validate.Length(max=8))
    age_groups = ma.fields.List(ma.fields.String(validate=validate.OneOf(AGE_GROUPS)),
                                validate=validate.Length(max=len(AGE_GROUPS)))
    population_groups = ma.fields.List(Text(validate=CODE), validate=validate.Length(max=10))


class StatusEntrySchema(ma.Schema):
    status = ma.fields.String(required=True)
    previous = ma.fields.String(allow_none=True)
    at = ma.fields.DateTime(required=True)
    by = ma.fields.String(allow_none=True)
    by_name = ma.fields.String()
    reason_code = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)


class CountsSchema(ma.Schema):
    votes = ma.fields.Integer(required=True)
    followers = ma.fields.Integer(required=True)
    comments = ma.fields.Integer(required=True)
    volunteers = ma.fields.Integer(required=True)


class LinkSchema(ma.Schema):
    idea_id = ma.fields.String(required=True)
    branch_id = ma.fields.String(allow_none=True)


class ViewerSchema(ma.Schema):
    voted = ma.fields.Boolean(required=True)
    following = ma.fields.Boolean(required=True)
    volunteering = ma.fields.Boolean(required=True)
    can_manage = ma.fields.Boolean(required=True)


class IdeaSchema(ma.Schema):
    id = ma.fields.String(required=True)
    branch_id = ma.fields.String(allow_none=True)
    region_id = ma.fields.String(allow_none=True)
    scope = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    tags = ma.fields.List(ma.fields.String())
    age_groups = ma.fields.List(ma.fields.String())
    population_groups = ma.fields.List(ma.fields.String())
    channel = ma.fields.String()
    author_id = ma.fields.String(allow_none=True)
    author_name = ma.fields.String()
    entered_by = ma.fields.String(allow_none=True)
    status = ma.fields.String(required=True)
    status_since = ma.fields.DateTime()
    history = ma.fields.List(ma.fields.Nested(StatusEntrySchema))
    durations = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float(),
                               metadata={"description": "Seconds spent in each status the idea has left"})
    counts = ma.fields.Nested(CountsSchema)
    merged_into = ma.fields.String(allow_none=True)
    merged_from = ma.fields.List(ma.fields.String())
    adopted_from = ma.fields.Nested(LinkSchema, allow_none=True)
    spread = ma.fields.List(ma.fields.Nested(LinkSchema), metadata={"description": "Branches that adopted it"})
    owner_id = ma.fields.String(allow_none=True)
    hidden = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    edited_at = ma.fields.DateTime(allow_none=True)
    version = ma.fields.Integer()
    me = ma.fields.Nested(ViewerSchema, metadata={"description": (
        "What the caller did (voted, follows, volunteers) and may do: with a read, a submission and an edit; "
        "the staff's lifecycle actions (status, merge, unmerge, adoption) answer with the idea alone")})


class IdeaCardSchema(ma.Schema):
    id = ma.fields.String(required=True)
    branch_id = ma.fields.String(allow_none=True)
    region_id = ma.fields.String(allow_none=True)
    title = ma.fields.String(required=True)
    snippet = ma.fields.String()
    status = ma.fields.String(required=True)
    tags = ma.fields.List(ma.fields.String())
    author_name = ma.fields.String()
    votes = ma.fields.Integer()
    comments = ma.fields.Integer()
    hidden = ma.fields.Boolean()
    merged_into = ma.fields.String(allow_none=True)
    adopted_from = ma.fields.String(allow_none=True)
    created_at = ma.fields.Float(metadata={"description": "Seconds since the epoch"})


class IdeaListArgsSchema(CursorArgsSchema):
    branch_id = Text(validate=ID, metadata={"description": "A branch id, or `org` for organization-wide ideas"})
    region_id = Text(validate=ID)
    status = ma.fields.String(validate=validate.OneOf(STATUSES))
    tag = Text(validate=validate.Length(1, 40))
    age_group = ma.fields.String(validate=validate.OneOf(AGE_GROUPS))
    population_group = Text(validate=CODE)
    author_id = Text(validate=ID)
    q = Text(validate=validate.Length(1, 200), metadata={"description": "Words of the title or description"})
    sort = ma.fields.String(load_default="newest", validate=validate.OneOf(SORTS))


class IdeaPageSchema(CursorPageSchema):
    items = ma.fields.List(ma.fields.Nested(IdeaCardSchema), required=True)


class SimilarArgsSchema(StrictSchema):
    text = Text(required=True, validate=validate.Length(1, 2000))
    limit = ma.fields.Integer(load_default=5, validate=validate.Range(1, 20))


class CardListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(IdeaCardSchema), required=True)


class VoteSchema(ma.Schema):
    voted = ma.fields.Boolean(required=True)
    votes = ma.fields.Integer(required=True, metadata={
        "description": "The idea's count as read, with this vote (others cast at the same moment may be missing)"})


class CommentCreateSchema(StrictSchema):
    text = Text(required=True, validate=validate.Length(1, 4000))
    parent_id = Text(load_default=None, allow_none=True, validate=ID)
    official = ma.fields.Boolean(load_default=False,
                                 metadata={"description": "An official response of the organization (staff)"})
    mentions = ma.fields.List(Text(validate=ID), load_default=list, validate=validate.Length(max=10),
                              metadata={"description": "Staff members mentioned (person ids)"})


class CommentUpdateSchema(StrictSchema):
    text = Text(required=True, validate=validate.Length(1, 4000))


class CommentSchema(ma.Schema):
    id = ma.fields.String(required=True)
    idea_id = ma.fields.String(required=True)
    parent_id = ma.fields.String(allow_none=True)
    author_id = ma.fields.String(allow_none=True)
    author_name = ma.fields.String()
    author_is_staff = ma.fields.Boolean()
    official = ma.fields.Boolean(required=True)
    text = ma.fields.String(required=True)
    mentions = ma.fields.List(ma.fields.String())
    created_at = ma.fields.DateTime(required=True)
    edited_at = ma.fields.DateTime(allow_none=True, metadata={"description": "Set when the text was edited"})
    hidden = ma.fields.Boolean()


class CommentListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CommentSchema), required=True)


class StatusChangeSchema(StrictSchema):
    status = ma.fields.String(required=True, validate=validate.OneOf([s for s in STATUSES if s != "merged"]))
    reason_code = ma.fields.String(load_default=None, allow_none=True, validate=validate.OneOf(REASON_CODES))
    note = Text(load_default=None, allow_none=True, validate=validate.Length(0, 2000))
    version = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1),
                                metadata={"description": "The version you saw; a newer one is a conflict"})


class MergeSchema(StrictSchema):
    into_idea_id = Text(required=True, validate=ID)


class AdoptionCreateSchema(StrictSchema):
    branch_id = Text(required=True, validate=ID)


class AdoptionListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(LinkSchema), required=True)


class VolunteerCreateSchema(StrictSchema):
    note = Text(load_default=None, allow_none=True, validate=validate.Length(0, 500),
                metadata={"description": "How you could help"})


class VolunteerSchema(ma.Schema):
    person_id = ma.fields.String(required=True)
    name = ma.fields.String()
    note = ma.fields.String(allow_none=True)
    at = ma.fields.DateTime()


class VolunteerListSchema(ma.Schema):
    count = ma.fields.Integer(required=True)
    items = ma.fields.List(ma.fields.Nested(VolunteerSchema), required=True)


class FlagCreateSchema(StrictSchema):
    reason = Text(required=True, validate=validate.Length(1, 500))
    comment_id = Text(load_default=None, allow_none=True, validate=ID,
                      metadata={"description": "Flag one comment of the idea rather than the idea"})


class FlagResultSchema(ma.Schema):
    flagged = ma.fields.Boolean(required=True, metadata={"description": "False if you had flagged it already"})


class ModerationArgsSchema(StrictSchema):
    branch_id = Text(validate=ID, metadata={"description": "The branch's queue; omit for organization-wide ideas"})


class ModerationItemSchema(ma.Schema):
    target_id = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    idea_id = ma.fields.String(required=True)
    idea_title = ma.fields.String()
    text = ma.fields.String()
    flags = ma.fields.Integer()
    reasons = ma.fields.List(ma.fields.String())
    first_at = ma.fields.DateTime()
    hidden = ma.fields.Boolean()


class ModerationListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ModerationItemSchema), required=True)


class ModerationDecisionSchema(StrictSchema):
    action = ma.fields.String(required=True, validate=validate.OneOf(["hide", "restore", "dismiss"]))
    reason = Text(required=True, validate=validate.Length(1, 500))


class ModerationResultSchema(ma.Schema):
    target_id = ma.fields.String(required=True)
    action = ma.fields.String(required=True)
    hidden = ma.fields.Boolean(required=True)


class PersonRefSchema(ma.Schema):
    id = ma.fields.String(required=True)
    name = ma.fields.String()


class PersonRefListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PersonRefSchema), required=True)
