"""HTTP shapes of the directory API (marshmallow); they validate input and document the API.
Passwords and credential hashes appear in no output schema."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from services.directory.domain import AGE_GROUPS, BRANCH_ROLES, LANGUAGES, ORG_ROLES
from shared.schemas import CursorArgsSchema, CursorPageSchema, StrictSchema, Text

CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$", error="1-32 letters, digits, '-' or '_'.")
ID = validate.Length(1, 64)


class LocalizedNameSchema(StrictSchema):
    he = Text(required=True, validate=validate.Length(1, 120))
    en = Text(required=True, validate=validate.Length(1, 120))


# --- regions and branches ------------------------------------------------------------------------------

class RegionCreateSchema(StrictSchema):
    code = Text(required=True, validate=CODE)
    name = ma.fields.Nested(LocalizedNameSchema, required=True)


class RegionSchema(ma.Schema):
    id = ma.fields.String(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.Nested(LocalizedNameSchema, required=True)


class RegionListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(RegionSchema), required=True)


class BranchCreateSchema(StrictSchema):
    code = Text(required=True, validate=CODE)
    name = ma.fields.Nested(LocalizedNameSchema, required=True)
    region_id = Text(load_default=None, allow_none=True, validate=ID)
    address = Text(load_default=None, allow_none=True, validate=validate.Length(0, 300))


class BranchUpdateSchema(StrictSchema):
    name = ma.fields.Nested(LocalizedNameSchema)
    region_id = Text(allow_none=True, validate=ID)
    address = Text(allow_none=True, validate=validate.Length(0, 300))


class BranchSchema(ma.Schema):
    id = ma.fields.String(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.Nested(LocalizedNameSchema, required=True)
    region_id = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    open = ma.fields.Boolean(required=True)


class BranchArgsSchema(CursorArgsSchema):
    region_id = Text(validate=ID)


class BranchPageSchema(CursorPageSchema):
    items = ma.fields.List(ma.fields.Nested(BranchSchema), required=True)


# --- sign-in -------------------------------------------------------------------------------------------

class TokenRequestSchema(StrictSchema):
    """One way of signing in: e-mail and password (staff), a device token (a participant coming back on the
    same device), or an API key (another system's service account)."""

    email = Text(validate=validate.Length(1, 254))
    password = Text(validate=validate.Length(1, 1024))
    device_token = Text(validate=validate.Length(1, 200))
    api_key = Text(validate=validate.Length(1, 200))

    @ma.validates_schema
    def one_way(self, data, **kwargs):
        ways = [bool(data.get("email") or data.get("password")), "device_token" in data, "api_key" in data]
        if sum(ways) != 1:
            raise ma.ValidationError("Give e-mail and password, or device_token, or api_key.", "_schema")
        if ways[0] and not (data.get("email") and data.get("password")):
            raise ma.ValidationError("E-mail and password go together.", "password")


class TokenSchema(ma.Schema):
    access_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(required=True, metadata={"description": "seconds"})


class PasswordChangeSchema(StrictSchema):
    current_password = Text(required=True, validate=validate.Length(1, 1024))
    new_password = Text(required=True, validate=validate.Length(10, 1024))


class TemporaryPasswordSchema(ma.Schema):
    temporary_password = ma.fields.String(required=True, metadata={"description": "shown once; hand it over"})


# --- people --------------------------------------------------------------------------------------------

BranchRoles = ma.fields.Dict(keys=ma.fields.String(validate=ID),
                             values=ma.fields.List(ma.fields.String(validate=validate.OneOf(BRANCH_ROLES)),
                                                   validate=validate.Length(max=2)),
                             validate=validate.Length(max=200))
OrgRoles = ma.fields.List(ma.fields.String(validate=validate.OneOf(ORG_ROLES)), validate=validate.Length(max=1))


class PersonSchema(ma.Schema):
    id = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, validate=validate.OneOf(["staff", "participant"]))
    name = ma.fields.String(required=True)
    lang = ma.fields.String(required=True)
    email = ma.fields.String(allow_none=True)
    home_branch = ma.fields.String(allow_none=True)
    org_roles = ma.fields.List(ma.fields.String(), required=True)
    branch_roles = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()), required=True)
    age_group = ma.fields.String(allow_none=True)
    population_group = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean(required=True)


class PersonPageSchema(CursorPageSchema):
    items = ma.fields.List(ma.fields.Nested(PersonSchema), required=True)


class PeopleArgsSchema(CursorArgsSchema):
    kind = Text(validate=validate.OneOf(["staff", "participant"]))
    branch_id = Text(validate=ID)


class StaffCreateSchema(StrictSchema):
    name = Text(required=True, validate=validate.Length(1, 120))
    email = Text(required=True, validate=validate.Length(3, 254))
    lang = Text(load_default="he", validate=validate.OneOf(LANGUAGES))
    org_roles = OrgRoles
    branch_roles = BranchRoles


class StaffCreatedSchema(ma.Schema):
    person = ma.fields.Nested(PersonSchema, required=True)
    temporary_password = ma.fields.String(required=True, metadata={"description": "shown once; hand it over"})


class RolesSchema(StrictSchema):
    org_roles = OrgRoles
    branch_roles = BranchRoles


class MeUpdateSchema(StrictSchema):
    """Only the fields sent change. A consent attribute set to null is withdrawn and removed."""

    name = Text(validate=validate.Length(1, 120))
    lang = Text(validate=validate.OneOf(LANGUAGES))
    email = Text(allow_none=True, validate=validate.Length(3, 254))
    age_group = Text(allow_none=True, validate=validate.OneOf(AGE_GROUPS))
    population_group = Text(allow_none=True, validate=validate.Length(1, 64))


# --- invites and joining -------------------------------------------------------------------------------

class InviteCreateSchema(StrictSchema):
    branch_id = Text(required=True, validate=ID)
    days = ma.fields.Integer(load_default=90, validate=validate.Range(1, 365))
    max_uses = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 1_000_000))


class InviteSchema(ma.Schema):
    code = ma.fields.String(required=True)
    branch_id = ma.fields.String(required=True)
    expires_at = ma.fields.DateTime(required=True)
    max_uses = ma.fields.Integer(allow_none=True)
    uses = ma.fields.Integer(required=True)
    revoked = ma.fields.Boolean(required=True)
    join_url = ma.fields.String(required=True)


class InviteListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(InviteSchema), required=True)


class InviteArgsSchema(StrictSchema):
    branch_id = Text(validate=ID)


class InvitePublicSchema(ma.Schema):
    code = ma.fields.String(required=True)
    branch = ma.fields.Nested(BranchSchema, required=True)


class JoinSchema(StrictSchema):
    name = Text(load_default=None, allow_none=True, validate=validate.Length(0, 60),
                metadata={"description": "a display name or pseudonym; empty for a generated one"})
    lang = Text(load_default="he", validate=validate.OneOf(LANGUAGES))
    email = Text(load_default=None, allow_none=True, validate=validate.Length(3, 254))
    age_group = Text(load_default=None, allow_none=True, validate=validate.OneOf(AGE_GROUPS),
                     metadata={"description": "given only with consent"})
    population_group = Text(load_default=None, allow_none=True, validate=validate.Length(1, 64),
                            metadata={"description": "given only with consent"})


class JoinedSchema(ma.Schema):
    person = ma.fields.Nested(PersonSchema, required=True)
    access_token = ma.fields.String(required=True)
    device_token = ma.fields.String(required=True, metadata={"description": "keep on the device to come back"})


# --- service accounts and settings ---------------------------------------------------------------------

class ServiceAccountCreateSchema(StrictSchema):
    name = Text(required=True, validate=validate.Length(1, 120))
    roles = ma.fields.List(ma.fields.String(validate=validate.OneOf(ORG_ROLES)), load_default=list,
                           validate=validate.Length(max=1))


class ServiceAccountSchema(ma.Schema):
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    roles = ma.fields.List(ma.fields.String(), required=True)
    active = ma.fields.Boolean(required=True)


class ServiceAccountCreatedSchema(ServiceAccountSchema):
    api_key = ma.fields.String(required=True, metadata={"description": "shown once"})


class ServiceAccountListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ServiceAccountSchema), required=True)


class PopulationGroupSchema(StrictSchema):
    code = Text(required=True, validate=CODE)
    name = ma.fields.Nested(LocalizedNameSchema, required=True)


class PopulationGroupsSchema(StrictSchema):
    items = ma.fields.List(ma.fields.Nested(PopulationGroupSchema), required=True, validate=validate.Length(max=100))
