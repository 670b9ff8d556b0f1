"""Ideas use cases: plain data in, who may do what checked, domain rules applied, changes and their events
stored together. The API and the pages stay thin."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pymongo.database import Database

from services.ideas import SERVICE, domain
from services.ideas.catalog import Card, Catalog, Query
from services.ideas.repository import (FOLLOWS, VOLUNTEERS, VOTES, AdoptionClaims, Ballot, CommentRepository,
                                       IdeaRepository, Memberships, Moderation, People, idea_of)
from shared.auth import STAFF_ROLES, Actor, Forbidden, Principal, require_signed_in
from shared.errors import Conflict, DomainError, N_, NotFound
from shared.events import Recorded, envelop_all
from shared.readmodels import BRANCHES


@dataclass
class Ideas:
    """The ideas service's storage and catalog, as the use cases see them."""

    db: Database
    ideas: IdeaRepository
    votes: Memberships
    follows: Memberships
    volunteers: Memberships
    comments: CommentRepository
    moderation: Moderation
    adoptions: AdoptionClaims
    people: People
    catalog: Catalog
    ballot: Ballot

    @classmethod
    def of(cls, db: Database, catalog: Catalog, ballot: Ballot | None = None) -> "Ideas":
        """`catalog` and `ballot` are the process's own (a web process shares them between its requests)."""
        return cls(db, IdeaRepository(db), Memberships(db, VOTES), Memberships(db, FOLLOWS),
                   Memberships(db, VOLUNTEERS), CommentRepository(db), Moderation(db), AdoptionClaims(db),
                   People(db), catalog, ballot or Ballot(db))

    def branch(self, branch_id: str) -> dict | None:
        return self.db[BRANCHES].find_one({"_id": branch_id})


def _events(recorded, actor: Actor):
    return envelop_all(recorded, service=SERVICE, actor=actor)


def _fact(doc_or_idea, type: str, **data) -> Recorded:
    idea_id = doc_or_idea["_id"] if isinstance(doc_or_idea, dict) else doc_or_idea.id
    branch_id = doc_or_idea.get("branch_id") if isinstance(doc_or_idea, dict) else doc_or_idea.branch_id
    return Recorded(f"cocreate.{type}.v1", idea_id, {"idea_id": idea_id, "branch_id": branch_id, **data}, branch_id)


def _seen(s: Ideas, doc: dict | None) -> dict | None:
    """An idea this process just wrote and read back: browsing in this process shows it at once."""
    s.catalog.seen(doc)
    return doc


# --- who may do what -----------------------------------------------------------------------------------

def may_manage(principal: Principal | None, branch_id: str | None) -> bool:
    """Staff of the idea's branch manage it; organization-wide ideas are managed by org admins."""
    return principal is not None and principal.has_role_in(branch_id, STAFF_ROLES)


def may_see(principal: Principal | None, branch_id: str | None, hidden: bool) -> bool:
    return not hidden or may_manage(principal, branch_id)


def visible_to(principal: Principal | None):
    return lambda card: may_see(principal, card.branch_id, card.hidden)


def _require_manager(actor: Actor, branch_id: str | None) -> Principal:
    principal = require_signed_in(actor.principal)
    if not may_manage(principal, branch_id):
        raise Forbidden(N_("Only staff of the idea's branch may do this.") if branch_id
                        else N_("Only organization staff manage organization-wide ideas."))
    return principal


def _doc(s: Ideas, actor: Actor, idea_id: str) -> dict:
    doc = s.ideas.get_doc(idea_id)
    if doc is None or not may_see(actor.principal, doc.get("branch_id"), doc.get("hidden", False)):
        raise NotFound(f"No idea {idea_id}.")
    return doc


def _person(principal: Principal) -> str:
    return principal.name or principal.id


# --- submit, read, edit --------------------------------------------------------------------------------

def submit(s: Ideas, actor: Actor, *, title: str, description: str, branch_id: str | None, tags=(),
           age_groups=(), population_groups=(), channel: str = "web", on_behalf_of: dict | None = None) -> dict:
    principal = require_signed_in(actor.principal)
    if principal.kind != "person":
        raise Forbidden(N_("Ideas come from people."))
    region_id = None
    if branch_id is not None:
        branch = s.branch(branch_id)
        if branch is None:
            raise DomainError(N_("Unknown branch."), "branch_id")
        if not branch.get("open", True):
            raise DomainError(N_("The branch is closed."), "branch_id")
        region_id = branch.get("region_id")
    if on_behalf_of is not None:
        _require_manager(actor, branch_id)
        idea = domain.submit(title=title, description=description, branch_id=branch_id, region_id=region_id,
                             tags=tags, age_groups=age_groups, population_groups=population_groups,
                             channel=channel, author_id=None, author_name=on_behalf_of.get("name") or "",
                             entered_by=principal.id, entered_by_name=_person(principal),
                             consent_recorded=bool(on_behalf_of.get("consent")))
    else:
        idea = domain.submit(title=title, description=description, branch_id=branch_id, region_id=region_id,
                             tags=tags, age_groups=age_groups, population_groups=population_groups,
                             channel=channel, author_id=principal.id, author_name=_person(principal))
    s.ideas.add(idea, _events(idea.events, actor))
    if idea.author_id:
        _follow(s, actor, s.ideas.get_doc(idea.id), principal.id, "author")
    return _seen(s, s.ideas.get_doc(idea.id))


def get(s: Ideas, actor: Actor, idea_id: str) -> dict:
    require_signed_in(actor.principal)
    return _doc(s, actor, idea_id)


def viewer_state(s: Ideas, actor: Actor, doc: dict) -> dict:
    principal = actor.principal
    if principal is None:
        return {"voted": False, "following": False, "volunteering": False, "can_manage": False}
    return {"voted": s.votes.has(doc["_id"], principal.id), "following": s.follows.has(doc["_id"], principal.id),
            "volunteering": s.volunteers.has(doc["_id"], principal.id),
            "can_manage": may_manage(principal, doc.get("branch_id"))}


def edit(s: Ideas, actor: Actor, idea_id: str, **changes) -> dict:
    principal = require_signed_in(actor.principal)
    doc = _doc(s, actor, idea_id)
    idea = idea_of(doc)
    is_author = idea.author_id == principal.id
    if not is_author and not may_manage(principal, idea.branch_id):
        raise Forbidden(N_("Only the author or the branch's staff edit an idea."))
    if is_author and not may_manage(principal, idea.branch_id) and idea.status not in (domain.SUBMITTED,
                                                                                        domain.UNDER_REVIEW):
        raise DomainError(N_("The idea is being carried out; ask the staff to change it."))
    edited = domain.edit(idea, by=principal.id, **changes)
    if edited is not idea:
        s.ideas.save(edited, _events(edited.events, actor))
        return _seen(s, s.ideas.get_doc(idea_id))
    return s.ideas.get_doc(idea_id)


# --- votes, follows, volunteers ------------------------------------------------------------------------

def _follow(s: Ideas, actor: Actor, doc: dict, person_id: str, reason: str) -> bool:
    joined = s.follows.join(doc["_id"], person_id, _events([_fact(doc, "idea.followed", person_id=person_id,
                                                                  reason=reason)], actor))
    if joined:
        s.ideas.bump(doc["_id"], followers=1)
    return joined


def _require_open(doc: dict) -> None:
    if doc["status"] not in domain.OPEN_FOR_VOTES:
        raise DomainError(f"Voting is closed: the idea is {doc['status']}.")


def _known(s: Ideas, actor: Actor, idea_id: str) -> dict:
    """What a vote needs of an idea (branch, status, hidden, votes), from this process's catalog when it has
    the idea (a second behind the store at most: no read), else from the store."""
    card = s.catalog.cards.get(idea_id)
    if card is None:
        return _doc(s, actor, idea_id)
    if not may_see(actor.principal, card.branch_id, card.hidden):
        raise NotFound(f"No idea {idea_id}.")
    return {"_id": card.id, "branch_id": card.branch_id, "status": card.status, "votes": card.votes}


def vote(s: Ideas, actor: Actor, idea_id: str) -> dict:
    """Support an idea; repeating it changes nothing. The supporter follows the idea from then on. The count
    returned is the idea's as this process knows it, with this vote: the stored count is exact, while votes
    others cast at the same moment may not be in the returned figure yet. The votes of concurrent requests
    are written together (repository.Ballot)."""
    principal = require_signed_in(actor.principal)
    doc = _known(s, actor, idea_id)
    _require_open(doc)
    votes = doc.get("votes", 0)
    cast, followed = s.ballot.cast(
        idea_id, principal.id, _events([_fact(doc, "vote.cast", person_id=principal.id)], actor),
        _events([_fact(doc, "idea.followed", person_id=principal.id, reason="vote")], actor))
    if cast:
        s.catalog.counted(idea_id, votes=1, followers=1 if followed else 0)
        votes += 1
    return {"voted": True, "votes": max(0, votes)}


def unvote(s: Ideas, actor: Actor, idea_id: str) -> dict:
    principal = require_signed_in(actor.principal)
    doc = _doc(s, actor, idea_id)
    _require_open(doc)
    votes = doc.get("votes", 0)
    if s.votes.leave(idea_id, principal.id, _events([_fact(doc, "vote.withdrawn", person_id=principal.id)], actor)):
        s.ideas.bump(idea_id, votes=-1)
        s.catalog.counted(idea_id, votes=-1)
        votes -= 1
    return {"voted": False, "votes": max(0, votes)}


def follow(s: Ideas, actor: Actor, idea_id: str) -> None:
    principal = require_signed_in(actor.principal)
    _follow(s, actor, _doc(s, actor, idea_id), principal.id, "explicit")


def unfollow(s: Ideas, actor: Actor, idea_id: str) -> None:
    principal = require_signed_in(actor.principal)
    doc = _doc(s, actor, idea_id)
    if s.follows.leave(idea_id, principal.id, _events(
            [_fact(doc, "idea.unfollowed", person_id=principal.id, reason="explicit")], actor)):
        s.ideas.bump(idea_id, followers=-1)


def volunteer(s: Ideas, actor: Actor, idea_id: str, note: str | None = None) -> None:
    """Offer to help carry an idea out; the volunteer follows it too."""
    principal = require_signed_in(actor.principal)
    doc = _doc(s, actor, idea_id)
    if doc["status"] in (domain.DECLINED, domain.MERGED, domain.IMPLEMENTED):
        raise DomainError(f"The idea is {doc['status']}: there is nothing left to help with.")
    note = note.strip() if note else None
    if note and len(note) > 500:
        raise DomainError(N_("A note is at most 500 characters."), "note")
    if s.volunteers.join(idea_id, principal.id, _events(
            [_fact(doc, "volunteer.joined", person_id=principal.id, note=note)], actor), note=note,
            name=_person(principal)):
        s.ideas.bump(idea_id, volunteers=1)
        _follow(s, actor, doc, principal.id, "volunteer")


def unvolunteer(s: Ideas, actor: Actor, idea_id: str) -> None:
    principal = require_signed_in(actor.principal)
    doc = _doc(s, actor, idea_id)
    if s.volunteers.leave(idea_id, principal.id, _events([_fact(doc, "volunteer.left", person_id=principal.id)],
                                                          actor)):
        s.ideas.bump(idea_id, volunteers=-1)


def list_volunteers(s: Ideas, actor: Actor, idea_id: str) -> list[dict]:
    """Who offered to help (staff of the idea's branch see everyone; others see only the count)."""
    doc = _doc(s, actor, idea_id)
    _require_manager(actor, doc.get("branch_id"))
    found = s.volunteers.active_of(idea_id, limit=1000)
    return [{"person_id": v["person_id"], "name": v.get("name", ""), "note": v.get("note"), "at": v["at"]}
            for v in found]


# --- dialogue ------------------------------------------------------------------------------------------

def comments(s: Ideas, actor: Actor, idea_id: str) -> list[dict]:
    """The idea's dialogue, oldest first; hidden comments are shown only to the branch's staff."""
    doc = _doc(s, actor, idea_id)
    staff = may_manage(actor.principal, doc.get("branch_id"))
    return [c for c in s.comments.of_idea(idea_id) if staff or not c.get("hidden")]


def post_comment(s: Ideas, actor: Actor, idea_id: str, *, text: str, parent_id: str | None = None,
                 official: bool = False, mentions=()) -> dict:
    principal = require_signed_in(actor.principal)
    doc = _doc(s, actor, idea_id)
    if doc["status"] == domain.MERGED:
        raise DomainError(N_("The idea was merged; continue the dialogue on the idea it was merged into."))
    if official and not may_manage(principal, doc.get("branch_id")):
        raise Forbidden(N_("Only staff of the idea's branch give official responses."))
    if parent_id is not None:
        parent = s.comments.get(parent_id)
        if parent is None or parent["idea_id"] != idea_id:
            raise DomainError(N_("Reply to a comment of this idea."), "parent_id")
    mentions = list(dict.fromkeys(mentions))
    for person_id in mentions:
        if not s.people.works_at(person_id, doc.get("branch_key", "org")):
            raise DomainError(N_("Only staff of the idea's branch can be mentioned."), "mentions")
    now = domain.now()
    comment = {"_id": domain.new_id("cm"), "idea_id": idea_id, "parent_id": parent_id, "author_id": principal.id,
               "author_name": _person(principal), "author_is_staff": principal.is_staff,
               "official": bool(official), "text": domain.comment_text(text), "mentions": mentions,
               "created_at": now, "edited_at": None, "hidden": False, "version": 1}
    s.comments.add(comment, _events([_fact(doc, "comment.posted", comment_id=comment["_id"], parent_id=parent_id,
                                           author_id=principal.id, official=bool(official), mentions=mentions,
                                           text=comment["text"])], actor))
    s.ideas.bump(idea_id, comments=1)
    followed = _follow(s, actor, doc, principal.id, "comment")
    s.catalog.counted(idea_id, comments=1, followers=1 if followed else 0)
    return comment


def edit_comment(s: Ideas, actor: Actor, idea_id: str, comment_id: str, *, text: str) -> dict:
    principal = require_signed_in(actor.principal)
    doc = _doc(s, actor, idea_id)
    comment = s.comments.get(comment_id)
    if comment is None or comment["idea_id"] != idea_id or (comment.get("hidden") and
                                                             not may_manage(principal, doc.get("branch_id"))):
        raise NotFound(f"No comment {comment_id}.")
    if comment.get("author_id") != principal.id:
        raise Forbidden(N_("Only the author edits a comment."))
    text = domain.comment_text(text)
    if text != comment["text"]:
        s.comments.edit(comment_id, comment.get("version", 1), text, domain.now(), _events(
            [_fact(doc, "comment.edited", comment_id=comment_id, author_id=principal.id, text=text)], actor))
    return s.comments.get(comment_id)


def mentionable(s: Ideas, actor: Actor, idea_id: str) -> list[dict]:
    """Staff who can be mentioned in an idea's dialogue: those of its branch."""
    doc = _doc(s, actor, idea_id)
    return [{"id": p["_id"], "name": p.get("name", "")} for p in s.people.staff_of(doc.get("branch_key", "org"))]


# --- lifecycle -----------------------------------------------------------------------------------------

def change_status(s: Ideas, actor: Actor, idea_id: str, *, status: str, reason_code: str | None = None,
                  note: str | None = None, version: int | None = None) -> dict:
    doc = _doc(s, actor, idea_id)
    principal = _require_manager(actor, doc.get("branch_id"))
    idea = idea_of(doc)
    if version is not None and version != idea.version:
        raise Conflict(N_("The idea was changed by someone else; reload and try again."))
    moved = domain.change_status(idea, status, by=principal.id, by_name=_person(principal),
                                 reason_code=reason_code, note=note)
    # The idea as stored: what was read, with what the save set (its counters as read a moment ago).
    return _seen(s, {**doc, **s.ideas.save(moved, _events(moved.events, actor))})


def merge(s: Ideas, actor: Actor, idea_id: str, *, into_idea_id: str) -> dict:
    """Merge a duplicate into another idea: its supporters, followers and comments move (nobody counted
    twice), the duplicate points to the surviving idea, and the merge can be undone."""
    doc = _doc(s, actor, idea_id)
    principal = _require_manager(actor, doc.get("branch_id"))
    target_doc = s.ideas.get_doc(into_idea_id)
    if target_doc is None or not may_see(principal, target_doc.get("branch_id"), target_doc.get("hidden", False)):
        raise DomainError(N_("Unknown idea to merge into."), "into_idea_id")
    idea, target = idea_of(doc), idea_of(target_doc)
    merged = domain.merge(idea, target, by=principal.id, by_name=_person(principal))
    s.ideas.save(merged, ())  # claims the merge (version check) before anything moves
    moved_votes = s.votes.move(idea_id, into_idea_id)
    moved_followers = s.follows.move(idea_id, into_idea_id, make_events=lambda person: _events(
        [_fact(target_doc, "idea.followed", person_id=person, reason="merge")], actor))
    moved_comments = s.comments.move(idea_id, into_idea_id)
    s.ideas.set_counts(idea_id, votes=0, followers=0, comments=0)
    s.ideas.set_counts(into_idea_id, votes=s.votes.count(into_idea_id), followers=s.follows.count(into_idea_id),
                       comments=target_doc.get("comments", 0) + moved_comments)
    s.ideas.add_to_list(into_idea_id, "merged_from", idea_id)
    s.ideas.add_to_list(idea_id, "merge_log", {"into": into_idea_id, "at": domain.now(), "by": principal.id}, _events(
        [_fact(merged, "idea.merged", into_idea_id=into_idea_id, moved_votes=moved_votes,
               moved_followers=moved_followers, moved_comments=moved_comments, by=principal.id)], actor))
    s.catalog.reread(s.ideas, idea_id, into_idea_id)
    return s.ideas.get_doc(idea_id)


def unmerge(s: Ideas, actor: Actor, idea_id: str) -> dict:
    doc = _doc(s, actor, idea_id)
    principal = _require_manager(actor, doc.get("branch_id"))
    idea = idea_of(doc)
    into_id = idea.merged_into
    restored = domain.unmerge(idea, by=principal.id, by_name=_person(principal))
    s.ideas.save(restored, ())
    target_doc = s.ideas.get_doc(into_id) or {"_id": into_id, "branch_id": None}
    s.votes.unmove(idea_id, into_id)
    s.follows.unmove(idea_id, into_id, make_events=lambda person: _events(
        [_fact(target_doc, "idea.unfollowed", person_id=person, reason="unmerge")], actor))
    back = s.comments.unmove(idea_id)
    s.ideas.set_counts(idea_id, votes=s.votes.count(idea_id), followers=s.follows.count(idea_id), comments=back)
    if target_doc.get("title"):
        s.ideas.set_counts(into_id, votes=s.votes.count(into_id), followers=s.follows.count(into_id),
                           comments=max(0, target_doc.get("comments", 0) - back))
        s.ideas.remove_from_list(into_id, "merged_from", idea_id)
    s.ideas.add_to_list(idea_id, "merge_log", {"undone": into_id, "at": domain.now(), "by": principal.id}, _events(
        [_fact(restored, "idea.unmerged", from_idea_id=into_id, status=restored.status, by=principal.id)], actor))
    s.catalog.reread(s.ideas, idea_id, into_id)
    return s.ideas.get_doc(idea_id)


def adopt(s: Ideas, actor: Actor, idea_id: str, *, branch_id: str) -> dict:
    """A branch takes up an idea implemented elsewhere, as its own idea with its own owner and lifecycle."""
    principal = require_signed_in(actor.principal)
    doc = _doc(s, actor, idea_id)
    if not may_manage(principal, branch_id):
        raise Forbidden(N_("Only staff of the adopting branch adopt an idea for it."))
    branch = s.branch(branch_id)
    if branch is None or not branch.get("open", True):
        raise DomainError(N_("Unknown or closed branch."), "branch_id")
    adoption = domain.adopt(idea_of(doc), branch_id=branch_id, region_id=branch.get("region_id"),
                            owner_id=principal.id, owner_name=_person(principal))
    s.adoptions.claim(idea_id, branch_id, adoption.id)
    try:
        s.ideas.add(adoption, _events(adoption.events, actor))
    except Exception:
        s.adoptions.release(idea_id, branch_id)
        raise
    s.ideas.add_to_list(idea_id, "spread", {"idea_id": adoption.id, "branch_id": branch_id, "at": domain.now()})
    s.catalog.reread(s.ideas, idea_id, adoption.id)
    return s.ideas.get_doc(adoption.id)


# --- moderation ----------------------------------------------------------------------------------------

def flag(s: Ideas, actor: Actor, idea_id: str, *, reason: str, comment_id: str | None = None) -> bool:
    """A participant flags an idea or a comment; it waits in the branch's moderation queue."""
    principal = require_signed_in(actor.principal)
    doc = _doc(s, actor, idea_id)
    target_id, kind = idea_id, "idea"
    if comment_id is not None:
        comment = s.comments.get(comment_id)
        if comment is None or comment["idea_id"] != idea_id or comment.get("hidden"):
            raise DomainError(N_("Unknown comment."), "comment_id")
        target_id, kind = comment_id, "comment"
    reason = reason.strip()
    if not 1 <= len(reason) <= 500:
        raise DomainError(N_("Say in a few words what is wrong (up to 500 characters)."), "reason")
    flagged = _fact(doc, "idea.flagged", target=kind, comment_id=comment_id, reason=reason, person_id=principal.id)
    added = s.moderation.flag(target_id=target_id, kind=kind, idea_id=idea_id, branch_key=doc.get("branch_key", "org"),
                              person_id=principal.id, reason=reason, at=domain.now(), events=_events([flagged], actor))
    if added and kind == "idea":
        s.ideas.bump(idea_id, flags=1)
    return added


def moderation_queue(s: Ideas, actor: Actor, branch_id: str | None) -> list[dict]:
    _require_manager(actor, branch_id)
    items = s.moderation.waiting(branch_id or "org")
    out = []
    for item in items:
        idea = s.ideas.get_doc(item["idea_id"]) or {}
        comment = s.comments.get(item["_id"]) if item["kind"] == "comment" else None
        out.append({"target_id": item["_id"], "kind": item["kind"], "idea_id": item["idea_id"],
                    "idea_title": idea.get("title", ""), "text": (comment or idea).get("text") or idea.get("description", ""),
                    "flags": item.get("flags", 0), "reasons": item.get("reasons", [])[-5:],
                    "first_at": item["first_at"], "hidden": (comment or idea).get("hidden", False)})
    return out


def moderate(s: Ideas, actor: Actor, target_id: str, *, action: str, reason: str) -> dict:
    """Staff hide or restore an idea or a comment (with a reason), or dismiss the flags."""
    principal = require_signed_in(actor.principal)
    comment = s.comments.get(target_id) if target_id.startswith("cm_") else None
    idea_id = comment["idea_id"] if comment else target_id
    doc = s.ideas.get_doc(idea_id)
    if doc is None or (comment is None and not target_id.startswith("id_")):
        raise NotFound(f"Nothing to moderate with id {target_id}.")
    _require_manager(actor, doc.get("branch_id"))
    if action not in ("hide", "restore", "dismiss"):
        raise DomainError(N_("The action is hide, restore or dismiss."), "action")
    reason = reason.strip()
    if not reason:
        raise DomainError(N_("Give the reason for the decision."), "reason")
    target = "comment" if comment else "idea"
    hidden_now = (comment or doc).get("hidden", False)
    if action == "hide" and hidden_now or action == "restore" and not hidden_now:
        raise DomainError(f"The {target} is {'hidden' if hidden_now else 'visible'} already.", "action")
    if action != "dismiss":
        hide = action == "hide"
        fact = _fact(doc, "idea.hidden" if hide else "idea.restored", target=target,
                     comment_id=comment["_id"] if comment else None, reason=reason, by=principal.id)
        if comment:
            s.comments.set_hidden(target_id, hide, reason if hide else None)
            s.ideas.add_to_list(idea_id, "moderation_log", {"target": target_id, "action": action, "reason": reason,
                                                            "by": principal.id, "at": domain.now()},
                                _events([fact], actor))
        else:
            idea = replace(idea_of(doc), hidden=hide, version=doc.get("version", 1) + 1)
            s.ideas.save(idea, _events([fact], actor), extra={"hidden_reason": reason if hide else None},
                         push={"moderation_log": {"target": target_id, "action": action, "reason": reason,
                                                  "by": principal.id, "at": domain.now()}})
    s.moderation.decide(target_id, action, reason, principal.id, domain.now())
    s.catalog.reread(s.ideas, idea_id)
    return {"target_id": target_id, "action": action, "hidden": action == "hide" or (action == "dismiss" and hidden_now)}


# --- browse --------------------------------------------------------------------------------------------

def browse(s: Ideas, actor: Actor, query: Query, *, after: str | None, limit: int) -> tuple[list[Card], str | None]:
    require_signed_in(actor.principal)
    s.catalog.sync(s.ideas)
    return s.catalog.search(query, visible=visible_to(actor.principal), after=after, limit=limit)


def similar(s: Ideas, actor: Actor, text: str, limit: int = 5, exclude: str | None = None) -> list[Card]:
    require_signed_in(actor.principal)
    s.catalog.sync(s.ideas)
    return s.catalog.similar(text, visible=visible_to(actor.principal), limit=limit, exclude=exclude)


def cards(s: Ideas, actor: Actor, ids) -> list[Card]:
    s.catalog.sync(s.ideas)
    seen = visible_to(actor.principal)
    return [c for c in (s.catalog.cards.get(i) for i in ids) if c is not None and seen(c)]


# --- what other services tell us -----------------------------------------------------------------------

FORMER = ""  # the author name of an erased person's content; pages show "a former participant"


def forget_person(s: Ideas, person_id: str, alias: str, actor: Actor) -> None:
    """person.erased: their ideas and comments stay, anonymized; their votes stay counted under an alias;
    what they followed or volunteered for goes (with the events that say so)."""
    for doc in s.ideas.by_author(person_id):
        s.ideas.anonymize_author(doc["_id"], FORMER)
    s.ideas.anonymize_history(person_id, FORMER)
    s.comments.anonymize_author(person_id, FORMER)
    s.votes.anonymize(person_id, alias)
    for idea_id in s.follows.remove_person(person_id):
        doc = s.ideas.get_doc(idea_id) or {"_id": idea_id, "branch_id": None}
        s.ideas.bump(idea_id, _events([_fact(doc, "idea.unfollowed", person_id=person_id, reason="erased")], actor),
                     followers=-1)
    for idea_id in s.volunteers.remove_person(person_id):
        doc = s.ideas.get_doc(idea_id) or {"_id": idea_id, "branch_id": None}
        s.ideas.bump(idea_id, _events([_fact(doc, "volunteer.left", person_id=person_id)], actor), volunteers=-1)
    s.db["flags"].delete_many({"person_id": person_id})
    s.catalog.invalidate()

