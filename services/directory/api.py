"""The directory's JSON API: thin routes that hand plain data to the use cases."""
from __future__ import annotations

from pathlib import Path

import marshmallow as ma
from flask import current_app
from flask import request
from flask.views import MethodView

from services.directory import importer
from services.directory import schemas as s
from services.directory import services
from services.directory.domain import Invite, Person
from shared.auth import TokenIssuer
from shared.schemas import page_of
from shared.web import Blueprint, actor, db, settings
from shared.web.problems import PROBLEM_JSON, ProblemSchema, problem

BEARER = [{"bearerAuth": []}]


def directory() -> services.Directory:
    return services.Directory.of(db())


def issuer() -> TokenIssuer:
    """The directory alone signs tokens; its key is read once per process."""
    if "directory_issuer" not in current_app.extensions:
        config = settings()
        current_app.extensions["directory_issuer"] = TokenIssuer(
            Path(config.jwt_private_key_file).read_bytes(), config.jwt_issuer, config.jwt_ttl_seconds)
    return current_app.extensions["directory_issuer"]


def person_out(person: Person) -> dict:
    return {"id": person.id, "kind": person.kind, "name": person.name, "lang": person.lang, "email": person.email,
            "home_branch": person.home_branch, "org_roles": sorted(person.org_roles),
            "branch_roles": {b: sorted(r) for b, r in person.branch_roles.items()},
            "age_group": person.age_group.value if person.age_group else None,
            "population_group": person.population_group.value if person.population_group else None,
            "active": person.active}


def branch_out(branch) -> dict:
    return {"id": branch.id, "code": branch.code, "name": {"he": branch.name_he, "en": branch.name_en},
            "region_id": branch.region_id, "address": branch.address, "open": branch.open}


def invite_out(invite: Invite) -> dict:
    return {"code": invite.code, "branch_id": invite.branch_id, "expires_at": invite.expires_at,
            "max_uses": invite.max_uses, "uses": invite.uses, "revoked": invite.revoked,
            "join_url": f"{settings().public_url}/directory/join/{invite.code}"}


# --- sign-in and me ------------------------------------------------------------------------------------

auth = Blueprint("auth", __name__, url_prefix="/auth", description="Sign-in: short-lived access tokens")


def _credentials(required: dict) -> dict:
    return {"type": "object", "required": list(required), "properties": required, "additionalProperties": False}


TOKEN_REQUEST_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
    _credentials({"email": {"type": "string", "minLength": 1, "maxLength": 254},
                  "password": {"type": "string", "minLength": 1, "maxLength": 1024}}),
    _credentials({"device_token": {"type": "string", "minLength": 1, "maxLength": 200}}),
    _credentials({"api_key": {"type": "string", "minLength": 1, "maxLength": 200}}),
]}}}}}


@auth.route("/token")
class Token(MethodView):
    @auth.arguments(s.TokenRequestSchema)
    @auth.doc(**TOKEN_REQUEST_DOC)
    @auth.response(200, s.TokenSchema)
    def post(self, body):
        """Exchange e-mail and password, a device token or an API key for an access token."""
        d, signer = directory(), issuer()
        if "api_key" in body:
            _, token = services.sign_in_with_api_key(d, signer, body["api_key"])
        elif "device_token" in body:
            _, token = services.sign_in_with_device(d, signer, body["device_token"])
        else:
            _, token = services.sign_in_with_password(d, signer, email=body["email"], password=body["password"])
        return {"access_token": token, "token_type": "Bearer", "expires_in": signer.ttl}


me = Blueprint("me", __name__, url_prefix="/me", description="The signed-in person")


@me.route("")
class Me(MethodView):
    @me.doc(security=BEARER)
    @me.response(200, s.PersonSchema)
    def get(self):
        """Who I am."""
        return person_out(services.me(directory(), actor()))

    @me.doc(security=BEARER)
    @me.arguments(s.MeUpdateSchema)
    @me.response(200, s.PersonSchema)
    def patch(self, body):
        """Change my name, language, e-mail or consents (null withdraws a consent)."""
        return person_out(services.update_me(directory(), actor(), **body))

    @me.doc(security=BEARER)
    @me.response(204)
    def delete(self):
        """Erase me: every service removes or anonymizes my data."""
        services.erase_person(directory(), actor(), actor().id or "")


@me.route("/password")
class MyPassword(MethodView):
    @me.doc(security=BEARER)
    @me.arguments(s.PasswordChangeSchema)
    @me.response(204)
    def post(self, body):
        """Change my password."""
        services.change_password(directory(), actor(), **body)


# --- regions and branches ------------------------------------------------------------------------------

regions = Blueprint("regions", __name__, url_prefix="/regions", description="Regions of the organization")


@regions.route("")
class Regions(MethodView):
    @regions.doc(security=BEARER)
    @regions.response(200, s.RegionListSchema)
    def get(self):
        """All regions."""
        return {"items": [{"id": r.id, "code": r.code, "name": {"he": r.name_he, "en": r.name_en}}
                          for r in services.list_regions(directory(), actor())]}

    @regions.doc(security=BEARER)
    @regions.arguments(s.RegionCreateSchema)
    @regions.response(201, s.RegionSchema)
    def post(self, body):
        """Define a region (org admins)."""
        r = services.create_region(directory(), actor(), **body)
        return {"id": r.id, "code": r.code, "name": {"he": r.name_he, "en": r.name_en}}


branches = Blueprint("branches", __name__, url_prefix="/branches", description="The organization's branches")


@branches.route("")
class Branches(MethodView):
    @branches.doc(security=BEARER)
    @branches.arguments(s.BranchArgsSchema, location="query")
    @branches.response(200, s.BranchPageSchema)
    def get(self, args):
        """List branches by code (cursor pagination), optionally of one region."""
        found = services.list_branches(directory(), actor(), after=args.get("after"), limit=args["limit"] + 1,
                                       region_id=args.get("region_id"))
        return page_of([branch_out(b) for b in found], args["limit"], cursor=lambda b: b["code"])

    @branches.doc(security=BEARER)
    @branches.arguments(s.BranchCreateSchema)
    @branches.response(201, s.BranchSchema)
    def post(self, body):
        """Open a branch (org admins)."""
        return branch_out(services.create_branch(directory(), actor(), **body))


@branches.route("/<string:branch_id>")
class BranchById(MethodView):
    @branches.doc(security=BEARER)
    @branches.response(200, s.BranchSchema)
    def get(self, branch_id):
        """One branch."""
        return branch_out(services.get_branch(directory(), actor(), branch_id))

    @branches.doc(security=BEARER)
    @branches.arguments(s.BranchUpdateSchema)
    @branches.response(200, s.BranchSchema)
    def patch(self, body, branch_id):
        """Change a branch's names, region or address (org admins)."""
        return branch_out(services.update_branch(directory(), actor(), branch_id, **body))


@branches.route("/<string:branch_id>/close")
class CloseBranch(MethodView):
    @branches.doc(security=BEARER)
    @branches.response(200, s.BranchSchema)
    def post(self, branch_id):
        """Close a branch (org admins); its history stays."""
        return branch_out(services.close_branch(directory(), actor(), branch_id))


# --- people --------------------------------------------------------------------------------------------

people = Blueprint("people", __name__, url_prefix="/people", description="Staff and participants")


@people.route("")
class People(MethodView):
    @people.doc(security=BEARER)
    @people.arguments(s.PeopleArgsSchema, location="query")
    @people.response(200, s.PersonPageSchema)
    def get(self, args):
        """People of the branches I work at (org admins: everyone)."""
        found = services.list_people(directory(), actor(), kind=args.get("kind"), branch_id=args.get("branch_id"),
                                     after=args.get("after"), limit=args["limit"] + 1)
        return page_of([person_out(p) for p in found], args["limit"], cursor=lambda p: p["id"])

    @people.doc(security=BEARER)
    @people.arguments(s.StaffCreateSchema)
    @people.response(201, s.StaffCreatedSchema)
    def post(self, body):
        """Register a staff member (org admins; branch managers at their own branches)."""
        person, temporary = services.create_staff(directory(), actor(), **body)
        return {"person": person_out(person), "temporary_password": temporary}


@people.route("/<string:person_id>")
class PersonById(MethodView):
    @people.doc(security=BEARER)
    @people.response(200, s.PersonSchema)
    def get(self, person_id):
        """One person I may see."""
        return person_out(services.get_person(directory(), actor(), person_id))


@people.route("/<string:person_id>/roles")
class PersonRoles(MethodView):
    @people.doc(security=BEARER)
    @people.arguments(s.RolesSchema)
    @people.response(200, s.PersonSchema)
    def put(self, body, person_id):
        """Set a staff member's roles."""
        return person_out(services.change_roles(directory(), actor(), person_id,
                                                org_roles=body.get("org_roles", []),
                                                branch_roles=body.get("branch_roles", {})))


@people.route("/<string:person_id>/deactivate")
class Deactivate(MethodView):
    @people.doc(security=BEARER)
    @people.response(200, s.PersonSchema)
    def post(self, person_id):
        """Stop a person from signing in; their contributions stay."""
        return person_out(services.deactivate_person(directory(), actor(), person_id))


@people.route("/<string:person_id>/password-reset")
class PasswordReset(MethodView):
    @people.doc(security=BEARER)
    @people.response(200, s.TemporaryPasswordSchema)
    def post(self, person_id):
        """Give a staff member a new temporary password (shown once)."""
        return {"temporary_password": services.reset_password(directory(), actor(), person_id)}


@people.route("/<string:person_id>/erase")
class Erase(MethodView):
    @people.doc(security=BEARER)
    @people.response(204)
    def post(self, person_id):
        """Erase a person (org admins, or the person themselves)."""
        services.erase_person(directory(), actor(), person_id)


# --- invites -------------------------------------------------------------------------------------------

invites = Blueprint("invites", __name__, url_prefix="/invites", description="Invite codes to join a branch")


@invites.route("")
class Invites(MethodView):
    @invites.doc(security=BEARER)
    @invites.arguments(s.InviteArgsSchema, location="query")
    @invites.response(200, s.InviteListSchema)
    def get(self, args):
        """Invites of the branches I work at."""
        invites = services.list_invites(directory(), actor(), branch_id=args.get("branch_id"))
        return {"items": [invite_out(i) for i in invites]}

    @invites.doc(security=BEARER)
    @invites.arguments(s.InviteCreateSchema)
    @invites.response(201, s.InviteSchema)
    def post(self, body):
        """Create an invite code for a branch (its staff)."""
        return invite_out(services.create_invite(directory(), actor(), **body))


@invites.route("/<string:code>")
class InviteByCode(MethodView):
    @invites.response(200, s.InvitePublicSchema)
    def get(self, code):
        """What an invite code leads to (public: anyone holding the code)."""
        invite, branch = services.open_invite(directory(), code)
        return {"code": invite.code, "branch": branch_out(branch)}

    @invites.doc(security=BEARER)
    @invites.response(204)
    def delete(self, code):
        """Revoke an invite (staff of its branch)."""
        services.revoke_invite(directory(), actor(), code)


@invites.route("/<string:code>/join")
class Join(MethodView):
    @invites.arguments(s.JoinSchema)
    @invites.response(201, s.JoinedSchema)
    def post(self, body, code):
        """Join the branch as a participant (pseudonymous is fine); returns tokens to come back with."""
        person, token, device = services.join(directory(), issuer(), actor(), code=code, **body)
        return {"person": person_out(person), "access_token": token, "device_token": device}


# --- service accounts and organization settings ---------------------------------------------------------

accounts = Blueprint("service_accounts", __name__, url_prefix="/service-accounts",
                     description="API keys for other systems")


@accounts.route("")
class ServiceAccounts(MethodView):
    @accounts.doc(security=BEARER)
    @accounts.response(200, s.ServiceAccountListSchema)
    def get(self):
        """All service accounts (org admins)."""
        return {"items": [{"id": a["_id"], "name": a["name"], "roles": a.get("roles", []), "active": a["active"]}
                          for a in services.list_service_accounts(directory(), actor())]}

    @accounts.doc(security=BEARER)
    @accounts.arguments(s.ServiceAccountCreateSchema)
    @accounts.response(201, s.ServiceAccountCreatedSchema)
    def post(self, body):
        """Create a service account; its API key is shown once."""
        account_id, key = services.create_service_account(directory(), actor(), **body)
        return {"id": account_id, "name": body["name"].strip(), "roles": body["roles"], "active": True,
                "api_key": key}


groups = Blueprint("population_groups", __name__, url_prefix="/population-groups",
                   description="The population groups the organization defines")


@groups.route("")
class PopulationGroups(MethodView):
    @groups.response(200, s.PopulationGroupsSchema)
    def get(self):
        """The organization's population groups (public: the join form offers them)."""
        return {"items": services.population_groups(directory())}

    @groups.doc(security=BEARER)
    @groups.arguments(s.PopulationGroupsSchema)
    @groups.response(200, s.PopulationGroupsSchema)
    def put(self, body):
        """Replace the list (org admins)."""
        return {"items": services.set_population_groups(directory(), actor(), body["items"])}


blueprints = [auth, me, regions, branches, people, invites, accounts, groups]


# --- bulk imports (CSV files, all or nothing) ---------------------------------------------------------------

imports = Blueprint("imports", __name__, url_prefix="/imports",
                    description="Import regions, branches and staff from CSV files, all or nothing (org admins)")
IMPORT_MAX_BYTES = 2 * 1024 * 1024  # what the edge lets through; bigger files go through the command line


class ImportedSchema(ma.Schema):
    imported = ma.fields.Integer(required=True, metadata={
        "description": "how many were added (staff: people, one per e-mail address)"})


class RowErrorSchema(ma.Schema):
    line = ma.fields.Integer(required=True, metadata={"description": "line of the file; the header is line 1"})
    field = ma.fields.String(required=True, allow_none=True, metadata={"description": "the column at fault"})
    message = ma.fields.String(required=True)


class ImportErrorsSchema(ma.Schema):
    rows = ma.fields.List(ma.fields.Nested(RowErrorSchema), required=True)


class ImportProblemSchema(ProblemSchema):
    errors = ma.fields.Nested(ImportErrorsSchema, metadata={"description": "every bad row of the file"})


def _csv_body(columns: str, example: str) -> dict:
    return {"requestBody": {"required": True, "description": f"A UTF-8 CSV file with a header row: {columns}. "
                                                           f"At most {IMPORT_MAX_BYTES // 1024 // 1024} MB.",
                            "content": {"text/csv": {"schema": {"type": "string"}, "example": example}}}}


def _import(use_case):
    """Run an import on the request's CSV body: 201 with the count, or 422 listing every bad row."""
    if request.mimetype != "text/csv":
        return problem(415, "Send the file as text/csv (UTF-8, a header row).", kind="unsupported-media-type")
    request.max_content_length = IMPORT_MAX_BYTES
    try:
        return {"imported": use_case(directory(), actor(), request.get_data())}
    except importer.ImportRejected as exc:
        return problem(422, str(exc), kind="import-rejected", errors={"rows": [e.as_dict() for e in exc.errors]})


def _import_doc(view):
    view = imports.alt_response(422, schema=ImportProblemSchema, content_type=PROBLEM_JSON,
                                description="The file has bad rows; nothing was imported")(view)
    view = imports.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")(view)
    view = imports.response(201, ImportedSchema)(view)
    return imports.doc(security=BEARER)(view)


@imports.route("/regions")
class ImportRegions(MethodView):
    @_import_doc
    @imports.doc(**_csv_body("code,name_he,name_en", "code,name_he,name_en\nnorth,צפון,North\n"))
    def post(self):
        """Import regions."""
        return _import(importer.import_regions)


@imports.route("/branches")
class ImportBranches(MethodView):
    @_import_doc
    @imports.doc(**_csv_body("code,name_he,name_en,region_code,address (region_code and address may be empty)",
                             "code,name_he,name_en,region_code,address\nhaifa,חיפה,Haifa,north,שדרות הנשיא 10\n"))
    def post(self):
        """Import branches; a region code must name an existing region."""
        return _import(importer.import_branches)


@imports.route("/staff")
class ImportStaff(MethodView):
    @_import_doc
    @imports.doc(**_csv_body("name,email,lang,branch_code,role (role: branch_staff, branch_manager, or org_admin "
                             "with an empty branch_code; one person may have several rows)",
                             "name,email,lang,branch_code,role\n"
                             "Noa Levi,noa.levi@example.org,he,haifa,branch_manager\n"))
    def post(self):
        """Import staff; they get no password until an admin resets one for them."""
        return _import(importer.import_staff)


blueprints.append(imports)
