"""The ideas service's pages, in the shared frame: browse and search, submit (with similar ideas shown while
typing), an idea with its votes, dialogue and status history, and for a branch's staff the board, the review
queue, the moderation queue and the idea's management (respond, change status, merge, adopt). Each form is
checked by the API's own schemas and handed as plain data to the use cases; what they refuse comes back on
the page as a message in the reader's language."""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import marshmallow as ma
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import format_date, format_time, lazy_gettext
from flask_babel import gettext as _
from pymongo.errors import PyMongoError

from services.ideas import domain, schemas, services
from services.ideas.api import _query as query_of
from services.ideas.api import store
from services.ideas.catalog import SORTS, Query
from shared.auth import STAFF_ROLES, AuthError, Forbidden, Principal
from shared.errors import Conflict, DomainError, NotFound
from shared.readmodels import BRANCHES
from shared.web import actor, current_principal, db
from shared.web.frame import branch_options
from shared.web.pages import signed_in
from shared.web.i18n import as_utc, current_language

log = logging.getLogger(__name__)
pages = Blueprint("pages", __name__)

PAGE_SIZE = 20
BOARD_COLUMN = 50  # cards per status on the board; the column links to the full list beyond
REVIEW_LIMIT = 200
BOARD_STATUSES = (domain.SUBMITTED, domain.UNDER_REVIEW, domain.PLANNED, domain.IN_PROGRESS, domain.IMPLEMENTED,
                  domain.DECLINED)
BROWSE_ARGS = ("branch_id", "status", "tag", "age_group", "q", "sort", "after")
IDEA_ID = re.compile(r"\bid_[0-9a-f]{16}\b")
ORG = domain.ORG  # a branch key: the organization-wide ideas

STATUS_LABELS = {
    domain.SUBMITTED: lazy_gettext("Submitted"), domain.UNDER_REVIEW: lazy_gettext("Under review"),
    domain.PLANNED: lazy_gettext("Planned"), domain.IN_PROGRESS: lazy_gettext("In progress"),
    domain.IMPLEMENTED: lazy_gettext("Implemented"), domain.DECLINED: lazy_gettext("Declined"),
    domain.MERGED: lazy_gettext("Merged"),
}
REASON_LABELS = {
    "not_feasible": lazy_gettext("Not feasible"), "out_of_scope": lazy_gettext("Outside what we do"),
    "policy": lazy_gettext("Against our policy"), "budget": lazy_gettext("No budget for it"),
    "already_exists": lazy_gettext("Exists already"), "other": lazy_gettext("Another reason"),
}
CHANNEL_LABELS = {"web": lazy_gettext("On the website"), "in_person": lazy_gettext("In person"),
                  "phone": lazy_gettext("By phone"), "kiosk": lazy_gettext("At a kiosk")}
AGE_LABELS = {"under_18": lazy_gettext("Under 18"), "18_29": "18–29", "30_44": "30–44", "45_64": "45–64",
              "65_plus": lazy_gettext("65 and over")}
SORT_LABELS = {"top": lazy_gettext("Most votes"), "newest": lazy_gettext("Newest"),
               "trending": lazy_gettext("Trending"), "updated": lazy_gettext("Recently updated")}
NOTICES = {
    "submitted": lazy_gettext("Your idea was shared. The branch's team will answer it."),
    "vote": lazy_gettext("Your vote was counted."), "unvote": lazy_gettext("Your vote was withdrawn."),
    "follow": lazy_gettext("You follow this idea now."), "unfollow": lazy_gettext("You no longer follow this idea."),
    "volunteer": lazy_gettext("Thank you for offering to help."),
    "unvolunteer": lazy_gettext("Your offer to help was withdrawn."),
    "flag": lazy_gettext("Thank you: the branch's moderators will look at it."),
    "comment": lazy_gettext("Your comment was posted."), "edit": lazy_gettext("Your comment was changed."),
    "status": lazy_gettext("The status was changed."), "merge": lazy_gettext("The idea was merged."),
    "unmerge": lazy_gettext("The merge was undone."), "adopt": lazy_gettext("Adopted: this is your branch's idea now."),
    "hide": lazy_gettext("Hidden."), "restore": lazy_gettext("Shown again."),
    "dismiss": lazy_gettext("The flags were dismissed."),
}

# The use cases' fixed refusals are marked N_ where they are raised (so the catalog holds them) and
# translated when shown; messages with a value inside are matched here.
RULE_PATTERNS = (
    (re.compile(r"^An idea cannot go from (\w+) to (\w+)\.$"),
     lambda a, b: _("An idea cannot go from %(old)s to %(new)s.", old=status_label(a), new=status_label(b))),
    (re.compile(r"^A (\w+) idea cannot be merged\.$"),
     lambda s: _("An idea that is %(status)s cannot be merged.", status=status_label(s))),
    (re.compile(r"^Voting is closed: the idea is (\w+)\.$"),
     lambda s: _("Voting is closed: the idea is %(status)s.", status=status_label(s))),
    (re.compile(r"^The idea is (\w+): there is nothing left to help with\.$"),
     lambda s: _("The idea is %(status)s: there is nothing left to help with.", status=status_label(s))),
    (re.compile(r"^The (idea|comment) is hidden already\.$"), lambda _kind: _("It is hidden already.")),
    (re.compile(r"^The (idea|comment) is visible already\.$"), lambda _kind: _("It is shown already.")),
)
# A form field the API's schemas refused, said in the reader's language.
FIELD_MESSAGES = {
    "title": lazy_gettext("A title is 3 to 140 characters."),
    "description": lazy_gettext("A description is 1 to 5,000 characters."),
    "branch_id": lazy_gettext("Choose a branch."),
    "tags": lazy_gettext("Up to 8 tags, each 1 to 40 characters, separated by commas."),
    "age_groups": lazy_gettext("Unknown age group."),
    "population_groups": lazy_gettext("Up to 10 population groups, each a code of 1-32 letters, digits, '-' or "
                                      "'_', separated by commas."),
    "channel": lazy_gettext("Unknown channel."),
    "on_behalf_of": lazy_gettext("The client's name is up to 120 characters."),
    "text": lazy_gettext("A comment is 1 to 4,000 characters."),
    "mentions": lazy_gettext("Mention at most 10 staff members."),
    "status": lazy_gettext("Choose the new status."),
    "reason_code": lazy_gettext("Choose a reason from the list."),
    "note": lazy_gettext("The note is too long."),
    "version": lazy_gettext("Reload the page and try again."),
    "into_idea_id": lazy_gettext("Give the number or the link of the idea to merge into."),
    "reason": lazy_gettext("Give a reason of up to 500 characters."),
    "action": lazy_gettext("The action is hide, restore or dismiss."),
}
STATUS_OF = {DomainError: 422, ma.ValidationError: 422, Forbidden: 403, Conflict: 409, NotFound: 404}
REFUSALS = tuple(STATUS_OF)


@dataclass(frozen=True)
class Failure:
    """A refused form: the message to show, the field at fault (if one is), and the page's status."""

    message: str
    field: str | None
    status: int

    @classmethod
    def of(cls, exc: Exception) -> "Failure":
        status = next(code for kind, code in STATUS_OF.items() if isinstance(exc, kind))
        if isinstance(exc, ma.ValidationError):
            field = next(iter(exc.normalized_messages()), None)
            return cls(str(FIELD_MESSAGES.get(field, _("Check what you entered."))), field, status)
        if isinstance(exc, NotFound):
            return cls(_("This idea or comment does not exist, or you may not see it."), None, status)
        return cls(rule_message(str(exc), getattr(exc, "field", None)), getattr(exc, "field", None), status)


def rule_message(text: str, field: str | None = None) -> str:
    translated = _(text)
    if translated != text or current_language() == "en":
        return translated
    for pattern, say in RULE_PATTERNS:
        match = pattern.match(text)
        if match:
            return say(*match.groups())
    return str(FIELD_MESSAGES[field]) if field in FIELD_MESSAGES else text


# --- what templates show ------------------------------------------------------------------------------

def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def branch_name(branch_id: str | None) -> str:
    if branch_id in (None, ORG):
        return _("Organization-wide")
    return current_app.extensions["cocreate_branch_names"].name(branch_id, current_language())


def author_label(name: str | None) -> str:
    """An erased person's ideas and comments keep no name: they read "a former participant"."""
    return name or _("a former participant")


def idea_author(doc: dict) -> str:
    """Who gave the idea: its author, a client staff entered it for (who may stay unnamed), or nobody now."""
    if not doc.get("author_name") and doc.get("entered_by"):
        return _("a client")
    return author_label(doc.get("author_name"))


def when(at) -> str:
    at = as_utc(at)
    return f"{format_date(at, 'medium')} {format_time(at, 'short')}"


def iso(at) -> str:
    if isinstance(at, (int, float)):
        at = datetime.fromtimestamp(at, timezone.utc)
    return at.isoformat()


@pages.app_context_processor
def labels():
    principal = _principal()
    return {"status_label": status_label, "reason_label": lambda r: REASON_LABELS.get(r, r),
            "channel_label": lambda c: CHANNEL_LABELS.get(c, c), "age_label": lambda g: AGE_LABELS.get(g, g),
            "sort_label": lambda s: SORT_LABELS.get(s, s), "branch_name": branch_name,
            "author_label": author_label, "idea_author": idea_author, "when": when, "iso": iso,
            "is_staff": bool(principal and principal.is_staff)}


def _principal() -> Principal | None:
    try:
        return current_principal()
    except AuthError:  # a broken bearer header: the page shows as to anyone, the route decides the rest
        return None


# --- who may see what ---------------------------------------------------------------------------------



def _message(title: str, text: str, status: int):
    return render_template("ideas/message.html", title=title, message=text), status


def _not_staff():
    return _message(_("For the branch's staff"), _("Only the staff of a branch see this page."), 403)


def _branch_choices(principal: Principal, open_only: bool = False, chosen: str | None = None) -> tuple[list, list]:
    """The person's own branches (home, and where they work), then all the others: (mine, others). Both
    these and the branch asked for are read fresh, so they are there even before the list is read again."""
    ids = list(dict.fromkeys(([principal.home_branch] if principal.home_branch else [])
                             + principal.branches_with(STAFF_ROLES)))
    mine = branch_options(_read_branches(ids), open_only)
    taken = {key for key, _ in mine}
    others = [b for b in branch_options(open_only=open_only) if b[0] not in taken]
    if chosen and chosen != ORG and chosen not in taken and all(b[0] != chosen for b in others):
        others = sorted(others + branch_options(_read_branches([chosen]), open_only), key=lambda b: b[1])
    return mine, others


def _read_branches(ids: list[str]) -> list[dict]:
    found = (db()[BRANCHES].find_one({"_id": i}, {"name": 1, "open": 1}) for i in ids)  # ($in would scan)
    return [d for d in found if d]


def _managed(principal: Principal) -> list[tuple[str, str]]:
    """(branch key, name) of the branches whose ideas the person manages; org admins: every branch, and the
    organization-wide ideas."""
    if principal.is_org_admin:
        return [(ORG, _("Organization-wide"))] + branch_options()
    return sorted(((b, branch_name(b)) for b in principal.branches_with(STAFF_ROLES)), key=lambda b: b[1])


def _branch_of(key: str) -> str | None:
    return None if key == ORG else key


def _pick_branch(principal: Principal) -> tuple[list[tuple[str, str]], str | None]:
    """The staff member's branches and the one asked for (?branch_id=, else the first); None if not theirs."""
    mine = _managed(principal)
    wanted = request.args.get("branch_id") or (mine[0][0] if mine else None)
    if wanted is None or not services.may_manage(principal, _branch_of(wanted)):
        return mine, None
    return mine, wanted


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


# --- browse --------------------------------------------------------------------------------------------

@pages.get("/")
def home():
    if _principal() is None:
        return render_template("home.html")  # what ideas are, with the frame's sign-in link
    return browse()


def browse():
    args = {k: request.args[k].strip() for k in BROWSE_ARGS if request.args.get(k, "").strip()}
    failure, cards, cursor, mine, others = None, [], None, [], []
    try:
        mine, others = _branch_choices(current_principal(), chosen=args.get("branch_id"))
        query = schemas.IdeaListArgsSchema().load(dict(args, limit=PAGE_SIZE))
        cards, cursor = services.browse(store(), actor(), query_of(query), after=query.get("after"),
                                        limit=PAGE_SIZE)
    except ma.ValidationError as exc:
        failure = Failure(_("Check the filters: one of them is not valid."), next(iter(exc.messages), None), 422)
    except PyMongoError:
        log.warning("ideas not listed: the store did not answer", exc_info=True)
        failure = Failure(_("The ideas cannot be shown right now. Try again in a minute."), None, 503)
    more = url_for("pages.home", **{k: v for k, v in args.items() if k != "after"}, after=cursor) if cursor else None
    return render_template("ideas/browse.html", cards=cards, more=more, args=args, mine=mine, others=others,
                           statuses=domain.STATUSES, age_groups=domain.AGE_GROUPS, sorts=SORTS,
                           failure=failure, section="browse"), failure.status if failure else 200


# --- submit --------------------------------------------------------------------------------------------

def _idea_body(form, principal: Principal) -> dict:
    body = {"title": form.get("title", ""), "description": form.get("description", ""),
            "branch_id": form.get("branch_id") or None, "tags": _split(form.get("tags")),
            "age_groups": form.getlist("age_groups"), "population_groups": _split(form.get("population_groups")),
            "channel": form.get("channel") or "web"}
    if principal.is_staff and (body["channel"] != "web" or form.get("client_name") or form.get("consent")):
        body["on_behalf_of"] = {"name": form.get("client_name", "").strip(), "consent": form.get("consent") == "yes"}
    return schemas.IdeaCreateSchema().load(body)


def _similar_to(text: str, exclude: str | None = None) -> list:
    text = " ".join(text.split())[:2000]
    return services.similar(store(), actor(), text, limit=5, exclude=exclude) if text else []


@pages.route("/new", methods=["GET", "POST"])
@signed_in
def submit():
    principal, form = current_principal(), request.form
    failure, similar = None, None
    if request.method == "POST":
        if form.get("check"):  # without scripts: "check for similar ideas" before sending
            similar = _similar_to(f"{form.get('title', '')} {form.get('description', '')}")
        else:
            try:
                doc = services.submit(store(), actor(), **_idea_body(form, principal))
                return redirect(url_for("pages.idea", idea_id=doc["_id"], done="submitted"))
            except REFUSALS as exc:
                failure = Failure.of(exc)
    chosen = form.get("branch_id") if request.method == "POST" else (
        principal.home_branch or next(iter(principal.branches_with(STAFF_ROLES)), ""))
    mine, others = _branch_choices(principal, open_only=True, chosen=chosen)
    return render_template("ideas/new.html", form=form, failure=failure, similar=similar, chosen=chosen,
                           mine=mine, others=others, age_groups=domain.AGE_GROUPS,
                           channels=domain.CHANNELS, section="new"), failure.status if failure else 200


@pages.get("/similar")
@signed_in
def similar():
    """The similar ideas of a text being typed, as a fragment the submit page's script puts in place."""
    text = request.args.get("text", "")
    return render_template("ideas/_similar.html", similar=_similar_to(text) if text.strip() else None)


# --- an idea -------------------------------------------------------------------------------------------

def _thread(comments: list[dict]) -> list[dict]:
    """The dialogue as a tree: replies under the comment they answer (under the top when it is not shown)."""
    shown = {c["_id"] for c in comments}
    replies: dict[str, list[dict]] = {}
    roots = []
    for c in comments:
        if c.get("parent_id") in shown:
            replies.setdefault(c["parent_id"], []).append(c)
        else:
            roots.append(c)

    def node(c):
        return {"c": c, "replies": [node(r) for r in replies.get(c["_id"], ())]}

    return [node(c) for c in roots]


def _history(doc: dict) -> list[dict]:
    """Each step of the status history with its notes said in the page's language; the submission names the
    author as the idea does (an erased author's name is gone from it)."""
    steps = []
    for i, e in enumerate(doc.get("history", [])):
        step = dict(e, link=None, note_text=e.get("note"))
        if i == 0 and e["status"] == domain.SUBMITTED and not doc.get("entered_by"):
            step["by_name"] = idea_author(doc)
        if e["status"] == domain.MERGED and e.get("note"):
            step.update(link=e["note"], note_text=_("Merged into another idea:"))
        elif e.get("note") == "merge undone":
            step["note_text"] = _("The merge was undone.")
        elif i == 0 and doc.get("adopted_from") and (e.get("note") or "").startswith("adopted from "):
            step.update(link=doc["adopted_from"], note_text=_("Adopted from another branch:"))
        steps.append(step)
    return steps


def _adoptable_at(principal: Principal, doc: dict) -> list[tuple[str, str]]:
    """My branches that could take up this implemented idea: not its own, nor one that adopted it already."""
    if doc["status"] != domain.IMPLEMENTED:
        return []
    taken = {doc.get("branch_id")} | {x["branch_id"] for x in doc.get("spread", [])}
    return [(key, name) for key, name in _managed(principal) if key != ORG and key not in taken]


def _idea_page(idea_id: str, failure: Failure | None = None):
    st, who = store(), actor()
    try:
        doc = services.get(st, who, idea_id)
    except NotFound:
        return _message(_("Idea not found"), _("This idea does not exist, or you may not see it."), 404)
    me = services.viewer_state(st, who, doc)
    comments = services.comments(st, who, idea_id)
    mentionable = services.mentionable(st, who, idea_id)
    linked = [doc.get("merged_into"), doc.get("adopted_from"), *doc.get("merged_from", []),
              *(x["idea_id"] for x in doc.get("spread", []))]
    cards = {c.id: c for c in services.cards(st, who, [i for i in linked if i])}
    managing = {}
    if me["can_manage"]:
        open_ = doc["status"] not in (domain.MERGED, domain.IMPLEMENTED)
        managing = {"next_statuses": domain.TRANSITIONS[doc["status"]], "reasons": domain.REASON_CODES,
                    "volunteers": services.list_volunteers(st, who, idea_id),
                    "duplicates": _similar_to(f"{doc['title']} {doc['description']}", idea_id) if open_ else []}
    form = request.form if failure else {}
    notice = NOTICES.get(request.args.get("done", "")) if not failure else None
    return render_template(
        "ideas/idea.html", doc=doc, me=me, thread=_thread(comments), history=_history(doc), cards=cards,
        mentionable=mentionable, names={p["id"]: p["name"] for p in mentionable}, managing=managing,
        adopt_at=_adoptable_at(who.principal, doc), open_for_votes=doc["status"] in domain.OPEN_FOR_VOTES,
        may_volunteer=doc["status"] not in (domain.DECLINED, domain.MERGED, domain.IMPLEMENTED),
        counts={c: max(0, doc.get(c, 0)) for c in ("votes", "followers", "comments", "volunteers")},
        form=form, failure=failure, notice=notice, viewer_id=who.id, section="idea",
    ), failure.status if failure else 200


@pages.get("/<idea_id>")
@signed_in
def idea(idea_id):
    return _idea_page(idea_id)


def _act(idea_id: str, act, done: str, anchor: str | None = None):
    """Run a use case for a form of the idea page: back to the page on success (a reload sends nothing
    twice), or the page again with the refusal said."""
    try:
        target = act()
    except REFUSALS as exc:
        return _idea_page(idea_id, Failure.of(exc))
    target = target if isinstance(target, str) else idea_id  # adopting leads to the branch's new idea
    return redirect(url_for("pages.idea", idea_id=target, done=done, _anchor=anchor))


@pages.post("/<idea_id>/vote")
@signed_in
def vote(idea_id):
    do = "unvote" if request.form.get("do") == "unvote" else "vote"
    return _act(idea_id, lambda: getattr(services, do)(store(), actor(), idea_id), do, "take-part")


@pages.post("/<idea_id>/follow")
@signed_in
def follow(idea_id):
    do = "unfollow" if request.form.get("do") == "unfollow" else "follow"
    return _act(idea_id, lambda: getattr(services, do)(store(), actor(), idea_id), do, "take-part")


@pages.post("/<idea_id>/volunteer")
@signed_in
def volunteer(idea_id):
    if request.form.get("do") == "unvolunteer":
        return _act(idea_id, lambda: services.unvolunteer(store(), actor(), idea_id), "unvolunteer", "take-part")

    def offer():
        body = schemas.VolunteerCreateSchema().load({"note": request.form.get("note", "").strip() or None})
        services.volunteer(store(), actor(), idea_id, **body)
    return _act(idea_id, offer, "volunteer", "take-part")


@pages.post("/<idea_id>/flag")
@signed_in
def flag(idea_id):
    def report():
        body = schemas.FlagCreateSchema().load({"reason": request.form.get("reason", ""),
                                                "comment_id": request.form.get("comment_id") or None})
        services.flag(store(), actor(), idea_id, **body)
    return _act(idea_id, report, "flag", "dialogue" if request.form.get("comment_id") else "take-part")


@pages.post("/<idea_id>/comments")
@signed_in
def post_comment(idea_id):
    def post():
        form = request.form
        body = schemas.CommentCreateSchema().load({
            "text": form.get("text", ""), "parent_id": form.get("parent_id") or None,
            "official": form.get("official") == "yes", "mentions": form.getlist("mentions")})
        services.post_comment(store(), actor(), idea_id, **body)
    return _act(idea_id, post, "comment", "dialogue")


@pages.post("/<idea_id>/comments/<comment_id>")
@signed_in
def edit_comment(idea_id, comment_id):
    def edit():
        body = schemas.CommentUpdateSchema().load({"text": request.form.get("text", "")})
        services.edit_comment(store(), actor(), idea_id, comment_id, **body)
    return _act(idea_id, edit, "edit", f"c-{comment_id}")


@pages.post("/<idea_id>/status")
@signed_in
def change_status(idea_id):
    def change():
        form = request.form
        body = schemas.StatusChangeSchema().load({
            "status": form.get("status", ""), "reason_code": form.get("reason_code") or None,
            "note": form.get("note", "").strip() or None, "version": form.get("version") or None})
        services.change_status(store(), actor(), idea_id, **body)
    return _act(idea_id, change, "status", "history")


@pages.post("/<idea_id>/merge")
@signed_in
def merge(idea_id):
    def merge_it():
        given = request.form.get("into_idea_id", "").strip()
        found = IDEA_ID.search(given)  # the idea's number, or its link pasted whole
        body = schemas.MergeSchema().load({"into_idea_id": found.group(0) if found else given})
        services.merge(store(), actor(), idea_id, **body)
    return _act(idea_id, merge_it, "merge")


@pages.post("/<idea_id>/unmerge")
@signed_in
def unmerge(idea_id):
    return _act(idea_id, lambda: services.unmerge(store(), actor(), idea_id), "unmerge")


@pages.post("/<idea_id>/adopt")
@signed_in
def adopt(idea_id):
    def adopt_it():
        body = schemas.AdoptionCreateSchema().load({"branch_id": request.form.get("branch_id", "")})
        return services.adopt(store(), actor(), idea_id, **body)["_id"]  # to the branch's new idea
    return _act(idea_id, adopt_it, "adopt")


# --- the staff's pages ---------------------------------------------------------------------------------

@pages.get("/board")
@signed_in
def board():
    """One branch's ideas by status, for its staff: columns on a wide screen, one under another on a phone."""
    principal = current_principal()
    mine, key = _pick_branch(principal)
    if key is None:
        return _not_staff()
    st, who = store(), actor()
    columns = []
    for status in BOARD_STATUSES:
        cards, cursor = services.browse(st, who, Query(branch=key, status=status, sort="updated"), after=None,
                                        limit=BOARD_COLUMN)
        columns.append({"status": status, "cards": cards,
                        "more": url_for("pages.home", branch_id=key, status=status, sort="updated") if cursor else None})
    return render_template("ideas/board.html", columns=columns, branches=mine, branch_id=key, section="board")


@pages.get("/review")
@signed_in
def review():
    """Submitted ideas of my branches, the longest waiting first."""
    principal = current_principal()
    if not principal.is_staff:
        return _not_staff()
    st, who = store(), actor()
    keys = [None] if principal.is_org_admin else principal.branches_with(STAFF_ROLES)
    waiting = []
    for key in keys:
        after = None
        while len(waiting) < 5000:
            cards, after = services.browse(st, who, Query(branch=key, status=domain.SUBMITTED, sort="newest"),
                                           after=after, limit=100)
            waiting += cards
            if after is None:
                break
    waiting.sort(key=lambda c: (c.created_at, c.id))
    return render_template("ideas/review.html", cards=waiting[:REVIEW_LIMIT], total=len(waiting), section="review")


def _moderation_page(failure: Failure | None = None):
    principal = current_principal()
    mine, key = _pick_branch(principal)
    if key is None:
        return _not_staff()
    items = services.moderation_queue(store(), actor(), _branch_of(key))
    notice = NOTICES.get(request.args.get("done", "")) if not failure else None
    return render_template("ideas/moderation.html", items=items, branches=mine, branch_id=key, failure=failure,
                           notice=notice, form=request.form if failure else {}, section="moderation"), \
        failure.status if failure else 200


@pages.get("/moderation")
@signed_in
def moderation():
    return _moderation_page()


@pages.post("/moderation/<target_id>")
@signed_in
def moderate(target_id):
    form = request.form
    try:
        body = schemas.ModerationDecisionSchema().load({"action": form.get("action", ""),
                                                        "reason": form.get("reason", "")})
        services.moderate(store(), actor(), target_id, **body)
    except REFUSALS as exc:
        return _moderation_page(Failure.of(exc))
    return redirect(url_for("pages.moderation", branch_id=request.args.get("branch_id"), done=body["action"]))


blueprints = [pages]
