"""Notifications rules that need no I/O: categories and channels, each person's preferences and what they
let through, and the identities that make delivery idempotent by construction (a notification's `_id` is
derived from the event, the recipient and the channel; its inbox bucket from the event's time)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Iterator, Mapping

from shared.errors import DomainError

# What a notification is about. Each person chooses per category and channel; critical ones always go.
MY_IDEAS, FOLLOWED_IDEAS, VOLUNTEERING = "my_ideas", "followed_ideas", "volunteering"
BRANCH_ACTIVITY, ACCOUNT = "branch_activity", "account"
CATEGORIES = (MY_IDEAS, FOLLOWED_IDEAS, VOLUNTEERING, BRANCH_ACTIVITY, ACCOUNT)
CRITICAL = frozenset({ACCOUNT})

INAPP, EMAIL, WEBHOOK = "inapp", "email", "webhook"
CHANNELS = (INAPP, EMAIL, WEBHOOK)
INSTANT, DAILY = "instant", "daily"
FREQUENCIES = (INSTANT, DAILY)

# What a person gets before choosing anything: the inbox for everything; e-mail for what is about their own
# ideas, their volunteering and their account; no webhooks.
DEFAULTS: dict[str, dict[str, Any]] = {
    category: {INAPP: True, EMAIL: category in (MY_IDEAS, VOLUNTEERING, ACCOUNT), WEBHOOK: False,
               "email_frequency": INSTANT}
    for category in CATEGORIES
}

# The inbox shows this many months back (older notifications are left to a retention job).
INBOX_MONTHS = 24


# --- preferences ---------------------------------------------------------------------------------------

def preferences(stored: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """A person's effective preferences: what they stored over the defaults; critical categories always on."""
    stored = stored or {}
    effective = {}
    for category in CATEGORIES:
        chosen = dict(DEFAULTS[category])
        chosen.update({k: v for k, v in (stored.get(category) or {}).items() if k in chosen})
        if category in CRITICAL:
            chosen.update({INAPP: True, EMAIL: True, "email_frequency": INSTANT})
        effective[category] = chosen
    return effective


def choose(categories: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Validate a person's new choice (categories not given take the defaults); critical ones cannot be
    turned off."""
    for category, chosen in categories.items():
        if category not in DEFAULTS:
            raise DomainError(f"Unknown category {category}.", "categories")
        if category in CRITICAL and (chosen.get(INAPP) is False or chosen.get(EMAIL) is False
                                     or chosen.get("email_frequency") == DAILY):
            raise DomainError(f"{category} messages are critical: they always go to the inbox and by e-mail, "
                              "at once.", "categories")
    return preferences(categories)


def wants(stored: Mapping[str, Any] | None, category: str, channel: str) -> bool:
    """Whether a person with these stored preferences is told about `category` on `channel`."""
    if category in CRITICAL and channel in (INAPP, EMAIL):
        return True
    chosen = (stored or {}).get(category) or {}
    return bool(chosen.get(channel, DEFAULTS[category][channel]))


# --- identities ----------------------------------------------------------------------------------------

ID_PATTERN = r"^[0-9]{8}T[0-9]{12}Z-[0-9a-f]{20}$"


def event_instant(time: str) -> datetime:
    """The event's `time` attribute as an aware UTC datetime (the contract requires RFC 3339)."""
    at = datetime.fromisoformat(time)
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def notification_id(event_id: str, event_time: datetime, recipient: str, channel: str) -> str:
    """Time-ordered (newest last in string order) and derived only from the event, the recipient and the
    channel: a redelivered event yields the same id, and the store's unique `_id` drops the duplicate."""
    digest = hashlib.sha256(f"{event_id}|{recipient}|{channel}".encode()).hexdigest()[:20]
    return f"{_stamp(event_time)}-{digest}"


@lru_cache(maxsize=256)  # a fan-out formats one event's time for every recipient
def _stamp(at: datetime) -> str:
    return f"{at:%Y%m%dT%H%M%S%f}Z"


def time_of(notification_id: str) -> datetime:
    """When the event a notification tells of happened (the start of its id)."""
    return datetime.strptime(notification_id[:21], "%Y%m%dT%H%M%S%f").replace(tzinfo=timezone.utc)


@lru_cache(maxsize=256)
def month_of(at: datetime) -> str:
    return f"{at:%Y%m}"


def box(recipient: str, month: str) -> str:
    """The inbox bucket of one person and month: the inbox is read with equality on it (served by an index)."""
    return f"{recipient}:{month}"


def months_back(start: str, count: int = INBOX_MONTHS) -> Iterator[str]:
    """`start` (YYYYMM) and the months before it, newest first."""
    year, month = int(start[:4]), int(start[4:])
    for _ in range(count + 1):
        yield f"{year:04d}{month:02d}"
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)


def newest_month(now: datetime) -> str:
    """Where reading the inbox starts: a day ahead, so an event stamped by a clock a little ahead is shown."""
    return month_of(now.astimezone(timezone.utc) + timedelta(days=1))


def delivery_id(event_id: str, channel: str, batch: int) -> str:
    """One delivery record per event, channel and batch of recipients (batches are formed in notification id
    order, so a redelivered event forms the same batches and its records are duplicates)."""
    return "dl_" + hashlib.sha256(f"{event_id}|{channel}|{batch}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Profile:
    """What delivery needs to know of a person: their stored preferences and whether they can be reached."""

    prefs: Mapping[str, Any] | None = None
    active: bool = True
    erased: bool = False
    version: int = 0

    @property
    def reachable(self) -> bool:
        return self.active and not self.erased

    @property
    def default(self) -> bool:
        """Reachable, with the default preferences: what most people are, and what needs no copy."""
        return self.reachable and (not self.prefs or preferences(self.prefs) == preferences(None))


DEFAULT_PROFILE = Profile()


# --- audiences: groups kept as read models, read in one query when an event concerns them ----------------

ORG = "org"  # the staff audience of organization-wide ideas: the org admins


def followers_of(idea_id: str) -> str:
    return f"follow:{idea_id}"


def volunteers_of(idea_id: str) -> str:
    return f"volunteer:{idea_id}"


def staff_of(branch_id: str | None) -> str:
    return f"staff:{branch_id or ORG}"


STAFF_PREFIX = "staff:"
