"""Notifications rules that need no I/O: categories and channels, each person's preferences and what they
let through, the identities that make delivery idempotent by construction (a notification's `_id` is
derived from the event, the recipient and the channel; its inbox bucket from the event's time), and the
rules of sending: retries and their backoff, when a day's digest is due, what a webhook may subscribe to."""
from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import urlsplit

from shared.errors import N_, DomainError
from shared.events import registry

# What a notification is about. Each person chooses per category and channel; critical ones always go.
MY_IDEAS, FOLLOWED_IDEAS, VOLUNTEERING = "my_ideas", "followed_ideas", "volunteering"
MY_FEEDBACK, BRANCH_ACTIVITY, ACCOUNT = "my_feedback", "branch_activity", "account"
CATEGORIES = (MY_IDEAS, FOLLOWED_IDEAS, VOLUNTEERING, MY_FEEDBACK, BRANCH_ACTIVITY, ACCOUNT)
CRITICAL = frozenset({ACCOUNT})

INAPP, EMAIL, WEBHOOK = "inapp", "email", "webhook"
CHANNELS = (INAPP, EMAIL, WEBHOOK)
INSTANT, DAILY = "instant", "daily"
FREQUENCIES = (INSTANT, DAILY)

# What a person gets before choosing anything: the inbox for everything; e-mail for what is about their own
# ideas, their volunteering, their feedback (surveys to answer, replies to what they said) and their account;
# no webhooks.
DEFAULTS: dict[str, dict[str, Any]] = {
    category: {INAPP: True, EMAIL: category in (MY_IDEAS, VOLUNTEERING, MY_FEEDBACK, ACCOUNT), WEBHOOK: False,
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


def email_mode(stored: Mapping[str, Any] | None, category: str) -> str | None:
    """How a person is e-mailed about `category`: None (not at all), INSTANT, or in the DAILY digest.
    Critical categories always go at once."""
    if not wants(stored, category, EMAIL):
        return None
    if category in CRITICAL:
        return INSTANT
    chosen = (stored or {}).get(category) or {}
    return DAILY if chosen.get("email_frequency", DEFAULTS[category]["email_frequency"]) == DAILY else INSTANT


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


def stamp(at: datetime) -> str:
    """The time prefix of ids made at `at`: ids of notifications of events before `at` sort below it."""
    return _stamp(at.astimezone(timezone.utc))


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
    # Address, name and language as the directory last told, read with the person's own profile (audiences'
    # copies leave it out): e-mails to send at once are handed over with it, with no lookup of their own.
    contact: Mapping[str, Any] | None = field(default=None, compare=False)

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


def supporters_of(idea_id: str) -> str:
    return f"support:{idea_id}"


def staff_of(branch_id: str | None) -> str:
    return f"staff:{branch_id or ORG}"


STAFF_PREFIX = "staff:"


# --- sending: e-mail, daily digests and webhooks -----------------------------------------------------------
# Pending, held, digested: waiting; delivered, dead, skipped, cancelled: settled (dead ones can be replayed).
PENDING, HELD, FORMING, DIGESTED = "pending", "held", "forming", "digested"
DELIVERED, DEAD, SKIPPED, CANCELLED = "delivered", "dead", "skipped", "cancelled"
DELIVERY_STATUSES = (PENDING, DELIVERED, DEAD, CANCELLED)  # what a webhook delivery can be in
# How an attempt ended.
ACCEPTED, FAILED, INTERRUPTED = "accepted", "failed", "interrupted"


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt `attempt` (1, 2, ...): base, 2 base, 4 base, ... at most cap."""
    return min(cap, base * 2 ** max(0, attempt - 1))


def attempts_allowed(max_attempts: int, replayed_after: int = 0) -> int:
    """The attempt after which a delivery is dead: max_attempts, counted again from each manual replay."""
    return replayed_after + max_attempts


def digest_window(now: datetime, hour: int, zone: tzinfo) -> tuple[str, datetime]:
    """The latest digest time at or before `now` (`hour` o'clock in `zone`): its local day (YYYYMMDD), and the
    instant. That day's digest tells each person what reached them since the previous one."""
    local = now.astimezone(zone)
    day = local.date()
    at = _at_hour(day, hour, zone)
    if at > local:
        day -= timedelta(days=1)
        at = _at_hour(day, hour, zone)
    return f"{day:%Y%m%d}", at.astimezone(timezone.utc)


def _at_hour(day: date, hour: int, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=zone)


def digest_id(day: str, recipient: str) -> str:
    """One digest per person and day: a restarted worker finds the same one."""
    return f"dg_{day}_{hashlib.sha256(recipient.encode()).hexdigest()[:20]}"


def digest_day(digest: str) -> date:
    return datetime.strptime(digest.split("_")[1], "%Y%m%d").date()


# --- webhooks ------------------------------------------------------------------------------------------------

WEBHOOK_ID_PATTERN = r"^wh_[0-9a-f]{16}$"
MAX_URL = 2000


def webhook_event_types() -> tuple[str, ...]:
    """What a webhook may subscribe to: every event type of the topics this service consumes."""
    topics = set(registry.topics_consumed_by("notifications"))
    return tuple(sorted(t for name, topic in registry.topics.items() if name in topics for t in topic["events"]))


def webhook_category(event_type: str) -> str:
    """The category a webhook delivery is reported under (notification.delivered/failed name one): events about
    people are account matters; everything else is branch activity."""
    return ACCOUNT if event_type.startswith("cocreate.person.") else BRANCH_ACTIVITY


def check_webhook_url(url: str, *, allow_private: bool = False) -> str:
    """An absolute http(s) URL with a host, no credentials (they would sit in logs) and no fragment; unless
    `allow_private`, not a host that names a non-public address itself (an IP literal, localhost). Names
    that resolve to one are refused when called (`non_public`)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DomainError(N_("A webhook URL is an absolute http:// or https:// URL."), "url")
    host = parts.hostname
    if not allow_private and (host == "localhost" or host.endswith(".localhost") or non_public([host])):
        raise DomainError(N_("A webhook URL must reach a public address, not this platform's own network."),
                          "url")
    if parts.username or parts.password:
        raise DomainError(N_("Put no credentials in a webhook URL: verify our signature instead."), "url")
    if parts.fragment:
        raise DomainError(N_("A webhook URL has no #fragment."), "url")
    if len(url) > MAX_URL:
        raise DomainError(f"A webhook URL has at most {MAX_URL} characters.", "url")
    return url


def non_public(addresses: Iterable[str]) -> str | None:
    """The first of these addresses (IP literals; anything else is skipped) that is not a public internet
    address: loopback, private, link-local, multicast, reserved, unspecified."""
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            continue
        ip = ip.ipv4_mapped or ip if isinstance(ip, ipaddress.IPv6Address) else ip
        if not ip.is_global or ip.is_multicast:
            return str(ip)
    return None


def new_webhook_id() -> str:
    return f"wh_{secrets.token_hex(8)}"


def new_secret() -> str:
    """The signing secret of a subscription: 256 random bits, shown once."""
    return f"whsec_{secrets.token_hex(32)}"
