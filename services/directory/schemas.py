"""HTTP shapes of the directory API (marshmallow); they validate input and document the API."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from shared.schemas import CursorPageSchema, StrictSchema, Text


class LocalizedNameSchema(StrictSchema):
    he = Text(required=True, validate=validate.Length(1, 120))
    en = Text(required=True, validate=validate.Length(1, 120))


class BranchCreateSchema(StrictSchema):
    code = Text(required=True, validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$",
                                                        error="1-32 letters, digits, '-' or '_'."))
    name = ma.fields.Nested(LocalizedNameSchema, required=True)
    region_id = Text(load_default=None, allow_none=True, validate=validate.Length(1, 64))
    address = Text(load_default=None, allow_none=True, validate=validate.Length(0, 300))


class BranchSchema(ma.Schema):
    id = ma.fields.String(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.Nested(LocalizedNameSchema, required=True)
    region_id = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    open = ma.fields.Boolean(required=True)


class BranchPageSchema(CursorPageSchema):
    items = ma.fields.List(ma.fields.Nested(BranchSchema), required=True)
