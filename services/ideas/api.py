"""The ideas service's JSON API: thin routes that hand plain data to the use cases."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from services.ideas import schemas as s
from services.ideas import services
from services.ideas.catalog import Card, Catalog, Query
from shared.auth import require_signed_in
from shared.readmodels import BRANCHES
from shared.schemas import CursorArgsSchema, page_of
from shared.web import Blueprint, actor, current_principal, db

BEARER = [{"bearerAuth": []}]


def catalog() -> Catalog:
    return current_app.extensions["ideas_catalog"]


def store() -> services.Ideas:
    return services.Ideas.of(db(), catalog(), current_app.extensions["ideas_ballot"])


def idea_out(doc: dict, viewer: dict | None = None) -> dict:
    adopted = doc.get("adopted_from")
    out = {k: doc.get(k) for k in ("branch_id", "region_id", "scope", "title", "description", "tags", "age_groups",
                                   "population_groups", "channel", "author_id", "author_name", "entered_by",
                                   "status", "status_since", "history", "durations", "merged_into", "owner_id",
                                   "hidden", "created_at", "updated_at", "edited_at", "version")}
    out.update(id=doc["_id"], merged_from=doc.get("merged_from", []),
               counts={c: max(0, doc.get(c, 0)) for c in ("votes", "followers", "comments", "volunteers")},
               adopted_from={"idea_id": adopted, "branch_id": doc.get("adopted_from_branch")} if adopted else None,
               spread=[{"idea_id": x["idea_id"], "branch_id": x["branch_id"]} for x in doc.get("spread", [])])
    if viewer is not None:
        out["me"] = viewer
    return out


def card_out(card: Card) -> dict:
    return {"id": card.id, "branch_id": card.branch_id, "region_id": card.region_id, "title": card.title,
            "snippet": card.snippet, "status": card.status, "tags": list(card.tags), "author_name": card.author_name,
            "votes": max(0, card.votes), "comments": card.comments, "hidden": card.hidden,
            "merged_into": card.merged_into, "adopted_from": card.adopted_from, "created_at": card.created_at}


def comment_out(doc: dict) -> dict:
    return dict({k: v for k, v in doc.items() if not k.startswith("_")}, id=doc["_id"])


# --- branches ------------------------------------------------------------------------------------------

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
    @branches.doc(security=BEARER)
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


# --- ideas ---------------------------------------------------------------------------------------------

ideas = Blueprint("ideas", __name__, url_prefix="/ideas",
                  description="Ideas: submit, browse and search, vote, dialogue, lifecycle, merge, adoption")


def _query(args: dict) -> Query:
    return Query(branch=args.get("branch_id"), region=args.get("region_id"), status=args.get("status"),
                 tag=(args.get("tag") or "").strip().lower() or None, age_group=args.get("age_group"),
                 population_group=args.get("population_group"), author=args.get("author_id"), text=args.get("q"),
                 sort=args["sort"])


@ideas.route("")
class IdeaCollection(MethodView):
    @ideas.doc(security=BEARER)
    @ideas.arguments(s.IdeaListArgsSchema, location="query")
    @ideas.response(200, s.IdeaPageSchema)
    def get(self, args):
        """Browse and search ideas: filter by branch, region, status, tag, group or author; sort by top,
        newest, trending or recently updated; `q` searches titles and descriptions (Hebrew and English)."""
        found, cursor = services.browse(store(), actor(), _query(args), after=args.get("after"),
                                        limit=args["limit"])
        return {"items": [card_out(c) for c in found], "next_cursor": cursor}

    @ideas.doc(security=BEARER)
    @ideas.arguments(s.IdeaCreateSchema)
    @ideas.response(201, s.IdeaSchema)
    def post(self, body):
        """Submit an idea; staff entering a client's idea give `on_behalf_of` with the client's consent."""
        st, who = store(), actor()
        doc = services.submit(st, who, **body)
        return idea_out(doc, services.viewer_state(st, who, doc))


@ideas.route("/similar")
class Similar(MethodView):
    @ideas.doc(security=BEARER)
    @ideas.arguments(s.SimilarArgsSchema, location="query")
    @ideas.response(200, s.CardListSchema)
    def get(self, args):
        """Ideas similar to a text being typed, across branches (to support one rather than repeat it)."""
        return {"items": [card_out(c) for c in services.similar(store(), actor(), args["text"], args["limit"])]}


@ideas.route("/<idea_id>")
class IdeaItem(MethodView):
    @ideas.doc(security=BEARER)
    @ideas.response(200, s.IdeaSchema)
    def get(self, idea_id):
        """An idea with its counts, status history and where it spread."""
        st, who = store(), actor()
        doc = services.get(st, who, idea_id)
        return idea_out(doc, services.viewer_state(st, who, doc))

    @ideas.doc(security=BEARER)
    @ideas.arguments(s.IdeaUpdateSchema)
    @ideas.response(200, s.IdeaSchema)
    def patch(self, body, idea_id):
        """Edit the title, description, tags or groups (the author early on, or the branch's staff)."""
        st, who = store(), actor()
        doc = services.edit(st, who, idea_id, **body)
        return idea_out(doc, services.viewer_state(st, who, doc))


@ideas.route("/<idea_id>/vote")
class Vote(MethodView):
    @ideas.doc(security=BEARER)
    @ideas.response(200, s.VoteSchema)
    def put(self, idea_id):
        """Support the idea (once per person; repeating it changes nothing)."""
        return services.vote(store(), actor(), idea_id)

    @ideas.doc(security=BEARER)
    @ideas.response(200, s.VoteSchema)
    def delete(self, idea_id):
        """Withdraw your support (repeating it changes nothing)."""
        return services.unvote(store(), actor(), idea_id)


@ideas.route("/<idea_id>/comments")
class Comments(MethodView):
    @ideas.doc(security=BEARER)
    @ideas.response(200, s.CommentListSchema)
    def get(self, idea_id):
        """The dialogue, oldest first; `parent_id` threads replies."""
        return {"items": [comment_out(c) for c in services.comments(store(), actor(), idea_id)]}

    @ideas.doc(security=BEARER)
    @ideas.arguments(s.CommentCreateSchema)
    @ideas.response(201, s.CommentSchema)
    def post(self, body, idea_id):
        """Comment or reply; staff of the idea's branch may mark it as the official response."""
        return comment_out(services.post_comment(store(), actor(), idea_id, **body))


@ideas.route("/<idea_id>/comments/<comment_id>")
class CommentItem(MethodView):
    @ideas.doc(security=BEARER)
    @ideas.arguments(s.CommentUpdateSchema)
    @ideas.response(200, s.CommentSchema)
    def patch(self, body, idea_id, comment_id):
        """Edit your comment; it shows as edited."""
        return comment_out(services.edit_comment(store(), actor(), idea_id, comment_id, **body))


@ideas.route("/<idea_id>/mentionable")
class Mentionable(MethodView):
    @ideas.doc(security=BEARER)
    @ideas.response(200, s.PersonRefListSchema)
    def get(self, idea_id):
        """Staff who can be @mentioned in this idea's dialogue."""
        return {"items": services.mentionable(store(), actor(), idea_id)}


@ideas.route("/<idea_id>/status")
class Status(MethodView):
    @ideas.doc(security=BEARER)
    @ideas.arguments(s.StatusChangeSchema)
    @ideas.response(200, s.IdeaSchema)
    def post(self, body, idea_id):
        """Move the idea along its lifecycle (staff of its branch); a decline needs a reason code and a note."""
        st, who = store(), actor()
        doc = services.change_status(st, who, idea_id, **body)
        return idea_out(doc)  # no `me`: a staff action; GET has it


@ideas.route("/<idea_id>/merge")
class Merge(MethodView):
    @ideas.doc(security=BEARER)
    @ideas.arguments(s.MergeSchema)
    @ideas.response(200, s.IdeaSchema)
    def post(self, body, idea_id):
        """Merge this idea into another (a duplicate): supporters, followers and comments move."""
        st, who = store(), actor()
        doc = services.merge(st, who, idea_id, **body)
        return idea_out(doc)  # no `me`: a staff action; GET has it

    @ideas.doc(security=BEARER)
    @ideas.response(200, s.IdeaSchema)
    def delete(self, idea_id):
        """Undo the merge: what moved goes back."""
        st, who = store(), actor()
        doc = services.unmerge(st, who, idea_id)
        return idea_out(doc)  # no `me`: a staff action; GET has it


@ideas.route("/<idea_id>/adoptions")
class Adoptions(MethodView):
    @ideas.doc(security=BEARER)
    @ideas.response(200, s.AdoptionListSchema)
    def get(self, idea_id):
        """Where the idea has spread: its adoptions at other branches."""
        doc = services.get(store(), actor(), idea_id)
        return {"items": [{"idea_id": x["idea_id"], "branch_id": x["branch_id"]} for x in doc.get("spread", [])]}

    @ideas.doc(security=BEARER)
    @ideas.arguments(s.AdoptionCreateSchema)
    @ideas.response(201, s.IdeaSchema)
    def post(self, body, idea_id):
        """Adopt an implemented idea at your branch: a new idea there, planned, owned by you."""
        st, who = store(), actor()
        doc = services.adopt(st, who, idea_id, **body)
        return idea_out(doc)  # no `me`: a staff action; GET has it


@ideas.route("/<idea_id>/follow")
class Follow(MethodView):
    @ideas.doc(security=BEARER)
    @ideas.response(204)
    def put(self, idea_id):
        """Follow the idea (hear of its changes)."""
        services.follow(store(), actor(), idea_id)

    @ideas.doc(security=BEARER)
    @ideas.response(204)
    def delete(self, idea_id):
        """Stop following the idea."""
        services.unfollow(store(), actor(), idea_id)


@ideas.route("/<idea_id>/volunteers")
class Volunteers(MethodView):
    @ideas.doc(security=BEARER)
    @ideas.response(200, s.VolunteerListSchema)
    def get(self, idea_id):
        """Who volunteered to help (staff of the idea's branch)."""
        found = services.list_volunteers(store(), actor(), idea_id)
        return {"count": len(found), "items": found}

    @ideas.doc(security=BEARER)
    @ideas.arguments(s.VolunteerCreateSchema)
    @ideas.response(204)
    def post(self, body, idea_id):
        """Volunteer to help carry the idea out."""
        services.volunteer(store(), actor(), idea_id, **body)

    @ideas.doc(security=BEARER)
    @ideas.response(204)
    def delete(self, idea_id):
        """Withdraw your offer to help."""
        services.unvolunteer(store(), actor(), idea_id)


@ideas.route("/<idea_id>/flags")
class Flags(MethodView):
    @ideas.doc(security=BEARER)
    @ideas.arguments(s.FlagCreateSchema)
    @ideas.response(201, s.FlagResultSchema)
    def post(self, body, idea_id):
        """Flag the idea, or one of its comments, for the branch's moderators."""
        return {"flagged": services.flag(store(), actor(), idea_id, **body)}


# --- moderation ----------------------------------------------------------------------------------------

moderation = Blueprint("moderation", __name__, url_prefix="/moderation",
                       description="Flagged ideas and comments waiting for a branch's staff")


@moderation.route("")
class Queue(MethodView):
    @moderation.doc(security=BEARER)
    @moderation.arguments(s.ModerationArgsSchema, location="query")
    @moderation.response(200, s.ModerationListSchema)
    def get(self, args):
        """The branch's moderation queue, oldest flag first."""
        return {"items": services.moderation_queue(store(), actor(), args.get("branch_id"))}


@moderation.route("/<target_id>")
class Decision(MethodView):
    @moderation.doc(security=BEARER)
    @moderation.arguments(s.ModerationDecisionSchema)
    @moderation.response(200, s.ModerationResultSchema)
    def post(self, body, target_id):
        """Hide or restore an idea or a comment with a reason, or dismiss its flags."""
        return services.moderate(store(), actor(), target_id, **body)


blueprints = [branches, ideas, moderation]
