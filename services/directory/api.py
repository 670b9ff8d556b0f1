"""The directory's JSON API: thin routes that hand plain data to the use cases."""
from __future__ import annotations

from flask.views import MethodView

from services.directory import services
from services.directory.repository import BranchRepository
from services.directory.schemas import BranchCreateSchema, BranchPageSchema, BranchSchema
from shared.schemas import CursorArgsSchema, page_of
from shared.web import Blueprint, actor, db

blp = Blueprint("branches", __name__, url_prefix="/branches", description="The organization's branches")


def _branch_out(branch):
    return {"id": branch.id, "code": branch.code, "name": {"he": branch.name_he, "en": branch.name_en},
            "region_id": branch.region_id, "address": branch.address, "open": branch.open}


@blp.route("")
class Branches(MethodView):
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, BranchPageSchema)
    def get(self, args):
        """List branches by code (cursor pagination)."""
        branches = services.list_branches(BranchRepository(db()), actor(), after=args["after"], limit=args["limit"] + 1)
        return page_of([_branch_out(b) for b in branches], args["limit"], cursor=lambda b: b["code"])

    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(BranchCreateSchema)
    @blp.response(201, BranchSchema)
    def post(self, body):
        """Open a branch (org admins)."""
        return _branch_out(services.create_branch(BranchRepository(db()), actor(), **body))


@blp.route("/<string:branch_id>")
class BranchById(MethodView):
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.response(200, BranchSchema)
    def get(self, branch_id):
        """One branch."""
        return _branch_out(services.get_branch(BranchRepository(db()), actor(), branch_id))


@blp.route("/<string:branch_id>/close")
class CloseBranch(MethodView):
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.response(200, BranchSchema)
    def post(self, branch_id):
        """Close a branch (org admins); its history stays."""
        return _branch_out(services.close_branch(BranchRepository(db()), actor(), branch_id))
blueprints = [blp]
