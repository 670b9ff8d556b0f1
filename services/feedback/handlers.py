"""Events the feedback service consumes, and what it keeps of them: branches and people (segments, staff,
registered participants; erasure), the ideas (funnel, lead times, who took part, the outcome survey when one
is implemented), and its own feedback.submitted (to count any response its web process left uncounted)."""
from __future__ import annotations

from typing import Callable

from pymongo.database import Database

from services.feedback import services
from services.feedback.services import Feedback
from shared.consumer import Handlers
from shared.events import Event
from shared.readmodels import keep_branches, keep_population_groups

handlers = Handlers()
keep_branches(handlers)
keep_population_groups(handlers)


def _use(case: Callable[[Feedback, Event], None]) -> Callable[[Database, Event], None]:
    def handle(db: Database, event: Event) -> None:
        case(Feedback.of(db), event)
    handle.__name__ = case.__name__
    return handle


handlers.on("cocreate.person.registered.v1", "cocreate.person.updated.v1", "cocreate.person.roles_changed.v1",
            "cocreate.person.deactivated.v1")(_use(services.learn_person))


@handlers.on("cocreate.person.erased.v1")
def person_erased(db: Database, event: Event) -> None:
    services.forget_person(Feedback.of(db), event.data["person_id"], event.time)


for _type, _case in {
    "cocreate.idea.submitted.v1": services.idea_submitted,
    "cocreate.idea.edited.v1": services.idea_edited,
    "cocreate.idea.status_changed.v1": services.idea_status_changed,
    "cocreate.idea.merged.v1": services.idea_merged,
    "cocreate.idea.unmerged.v1": services.idea_unmerged,
    "cocreate.comment.posted.v1": services.comment_posted,
    "cocreate.vote.cast.v1": services.vote_cast,
    "cocreate.vote.withdrawn.v1": services.vote_withdrawn,
    "cocreate.idea.followed.v1": services.idea_followed,
    "cocreate.idea.unfollowed.v1": services.idea_unfollowed,
    "cocreate.volunteer.joined.v1": services.volunteer_joined,
    "cocreate.volunteer.left.v1": services.volunteer_left,
    "cocreate.feedback.submitted.v1": services.feedback_submitted,
}.items():
    handlers.on(_type)(_use(_case))
