"""The ideas service's JSON API."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from shared.auth import require_signed_in
from shared.readmodels import BRANCHES
from shared.schemas import CursorArgsSchema, page_of
from shared.web import Blueprint, current_principal, db

branches = Blueprint("branches", __name__, url_prefix="/branches",
                     description="Branches as the ideas service knows them (from the directory's events)")


class KnownBranchSchema(ma.Schema):
    id = ma.fields.String(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)
    region_id = ma.fields.String(allow_none=True)
    open = ma.fields.Boolean(required=True)


class KnownBranchPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(KnownBranchSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


@branches.route("")
class KnownBranches(MethodView):
    @branches.doc(security=[{"bearerAuth": []}])
    @branches.arguments(CursorArgsSchema, location="query")
    @branches.response(200, KnownBranchPageSchema)
    def get(self, args):
        """Branches to browse ideas by, ordered by code."""
        require_signed_in(current_principal())
        query = {"code": {"$gt": args["after"]}} if args.get("after") else {}
        docs = db()[BRANCHES].find(query).sort("code", 1).limit(args["limit"] + 1)
        items = [{"id": d["_id"], "code": d["code"], "name": d["name"], "region_id": d.get("region_id"),
                  "open": d.get("open", True)} for d in docs]
        return page_of(items, args["limit"], cursor=lambda b: b["code"])


blueprints = [branches]
