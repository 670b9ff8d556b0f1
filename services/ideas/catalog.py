"""The catalog: browse and search over every idea, kept in each web process.

The store answers only top-level equality from an index; filters with ranges, sorts and text search scan
the whole collection (0.6 µs a document, then 0.1 ms for each one returned). So the service keeps its own
index, like a search replica: compact cards of every idea, a set of ids per facet value (branch, region,
status, tag, group, author), a word index over titles and descriptions in Hebrew and English, and the
ideas in each sort order. It loads once per process and then follows the store: every idea write stamps
`tick` (a half-second bucket, an indexed equality), and a refresh (every second) reads only the buckets
since the last one, and those of the LAG_SECONDS before it; counters stamp `count_tick` (10 seconds), read
every 10 seconds. A process shows its own writes at once.
"""
from __future__ import annotations

import gc
import heapq
import itertools
import math
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

from sortedcontainers import SortedKeyList, SortedList

from services.ideas.repository import TICK_SECONDS, IdeaRepository, count_tick, tick
from shared.text import HEBREW_PREFIXES, STOP, terms_of, words

FACETS = ("branch", "region", "status", "tag", "age_group", "population_group", "author")
SORTS = ("top", "newest", "trending", "updated")
CARD_FIELDS = {"branch_id": 1, "branch_key": 1, "region_id": 1, "status": 1, "tags": 1, "age_groups": 1,
               "population_groups": 1, "author_id": 1, "author_name": 1, "title": 1, "description": 1,
               "votes": 1, "comments": 1, "followers": 1, "volunteers": 1, "created_at": 1, "updated_at": 1,
               "hidden": 1, "merged_into": 1, "adopted_from": 1, "spread": 1, "channel": 1, "version": 1}
# What a refresh of counters reads of an idea: its counters alone (a card's other fields change with its `tick`).
# Reading whole cards here cost the store most of its time under votes: every idea voted on in the last
# seconds, read again by every process, with every field.
COUNT_FIELDS = {"votes": 1, "comments": 1, "followers": 1, "volunteers": 1}
SNIPPET = 240
TRENDING_SECONDS, TRENDING_NEW_SECONDS = 30, 2
RANK_CHUNK = 4000  # ideas sorted at once when ranking trending (a few ms of the interpreter lock each)
# How late after its `tick` stamp a write may commit and still be seen by every process's next refresh. Each
# change is read again by each refresh for this long: longer is safer, and costs the store more reads.
LAG_SECONDS = 1.5
LAG_TICKS = math.ceil(LAG_SECONDS / TICK_SECONDS)
# Counters other processes changed show within this many seconds (or twice as many): their buckets are
# read this often, each change about twice.
COUNTS_REFRESH_SECONDS = 10
# What answering a query costs, in microseconds (measured on the benchmark machine, bench/ideas_browse.py):
# a card checked while walking an order, an id looked up while intersecting sets, an idea of a result sorted.
WALK_US, INTERSECT_US, SORT_US = 1.5, 0.05, 2.2
# With a keeper thread, a request refreshes the catalog itself only when the keeper is this late (stuck).
KEEPER_LATE_SECONDS = 10
SIMILAR_TERMS = 6  # the rarest words of a text that similarity looks up
SIMILAR_MAX_POSTINGS = 2000  # on a big catalog, words in more ideas than this (and 2%) are not looked up
PREFIX_FROM, PREFIX_TERMS = 2, 200  # a typed word's beginning is expanded from 2 letters, to 200 words at most


@dataclass
class Card:
    id: str
    branch_id: str | None
    branch_key: str
    region_id: str | None
    status: str
    tags: tuple[str, ...]
    age_groups: tuple[str, ...]
    population_groups: tuple[str, ...]
    author_id: str | None
    author_name: str
    title: str
    snippet: str
    votes: int
    comments: int
    followers: int
    volunteers: int
    created_at: float
    updated_at: float
    hidden: bool
    merged_into: str | None
    adopted_from: str | None
    spread: int
    channel: str
    terms: tuple[str, ...] = field(repr=False, default=())  # interned: one string object per distinct term

    def facet_values(self) -> Iterable[tuple[str, str]]:
        yield "branch", self.branch_key
        if self.region_id:
            yield "region", self.region_id
        yield "status", self.status
        for t in self.tags:
            yield "tag", t
        for g in self.age_groups:
            yield "age_group", g
        for g in self.population_groups:
            yield "population_group", g
        if self.author_id:
            yield "author", self.author_id


def card_of(doc: dict) -> Card:
    description = doc.get("description", "")
    return Card(id=doc["_id"], branch_id=doc.get("branch_id"), branch_key=doc.get("branch_key") or "org",
                region_id=doc.get("region_id"), status=doc["status"], tags=tuple(doc.get("tags", ())),
                age_groups=tuple(doc.get("age_groups", ())), population_groups=tuple(doc.get("population_groups", ())),
                author_id=doc.get("author_id"), author_name=doc.get("author_name", ""), title=doc["title"],
                snippet=description[:SNIPPET], votes=doc.get("votes", 0), comments=doc.get("comments", 0),
                followers=doc.get("followers", 0), volunteers=doc.get("volunteers", 0),
                created_at=doc["created_at"].timestamp(), updated_at=doc.get("updated_at", doc["created_at"]).timestamp(),
                hidden=doc.get("hidden", False), merged_into=doc.get("merged_into"),
                adopted_from=doc.get("adopted_from"), spread=len(doc.get("spread", ())),
                channel=doc.get("channel", "web"),
                terms=tuple(sys.intern(t) for t in terms_of(f"{doc['title']} {description} {' '.join(doc.get('tags', ()))}")))


SORT_KEYS: dict[str, Callable[[Card], tuple]] = {
    "top": lambda c: (-c.votes, -c.created_at, c.id),
    "newest": lambda c: (-c.created_at, c.id),
    "updated": lambda c: (-c.updated_at, c.id),
}


def trending_score(card: Card, now: float) -> float:
    """Support relative to age: an idea's votes over its age in hours plus two, to the power 1.5."""
    hours = max(0.0, now - card.created_at) / 3600
    return card.votes / math.pow(hours + 2, 1.5)


@dataclass(frozen=True)
class Query:
    branch: str | None = None
    region: str | None = None
    status: str | None = None
    tag: str | None = None
    age_group: str | None = None
    population_group: str | None = None
    author: str | None = None
    text: str | None = None
    sort: str = "newest"

    def facets(self) -> list[tuple[str, str]]:
        return [(name, getattr(self, name)) for name in FACETS if getattr(self, name)]


class Catalog:
    def __init__(self, refresh_seconds: float = 1.0):
        self.cards: dict[str, Card] = {}
        self.facets: dict[tuple[str, str], set[str]] = {}
        self.terms: dict[str, set[str]] = {}
        self.vocabulary = SortedList()
        self.orders = {name: SortedKeyList(key=key) for name, key in SORT_KEYS.items()}
        self.refresh_seconds = refresh_seconds
        self.loaded = False
        self.last_tick = 0
        self.last_refresh = 0.0
        self.last_count_tick = 0
        self.last_counts_refresh = 0.0
        self.kept = False  # a keeper thread follows the store (keep_fresh): requests do not refresh
        self._trending: tuple[float, list[tuple[float, str]], dict[str, int]] = (0.0, [], {})
        self._lock = threading.RLock()
        self._refreshing = threading.Lock()

    # --- following the store -------------------------------------------------------------------------
    def sync(self, ideas: IdeaRepository, *, keeper: bool = False) -> None:
        """Load everything on first use (other requests wait for it), then apply what changed since the last
        refresh. A refresh reads the store without holding the index, and only one thread refreshes at a
        time: the others answer from the index as it is meanwhile."""
        since = time.time() - self.last_refresh
        if self.loaded and (since < self.refresh_seconds or self.kept and not keeper and since < KEEPER_LATE_SECONDS):
            return  # fresh enough, or the keeper thread (keep_fresh) refreshes, off the request path
        if not self.loaded:
            with self._lock:
                if not self.loaded:
                    self._load(ideas)
            return
        if not self._refreshing.acquire(blocking=False):
            return
        try:
            started = time.time()
            current = tick(started)
            # A write stamped before the last read may commit after it: the buckets of the last LAG_SECONDS
            # before it are read again.
            changed = ideas.changed_since(range(self.last_tick - LAG_TICKS, current + 1), CARD_FIELDS)
            counts_due = started - self.last_counts_refresh >= COUNTS_REFRESH_SECONDS
            recounted: list[dict] = []
            if counts_due:  # read after the cards: the newer figures win
                counted = count_tick(started)
                recounted = ideas.changed_since(range(self.last_count_tick - 1, counted + 1), COUNT_FIELDS,
                                                field="count_tick")
            cards = [card_of(doc) for doc in changed]
            with self._lock:
                for card in cards:
                    self.put(card)
                for doc in recounted:
                    self._recount(doc)
                self.last_tick = current
                self.last_refresh = started
                if counts_due:
                    self.last_count_tick, self.last_counts_refresh = counted, started
        finally:
            self._refreshing.release()

    def _load(self, ideas: IdeaRepository) -> None:
        started = time.time()
        for doc in ideas.all_cards(CARD_FIELDS):
            self.put(card_of(doc))
        self.last_tick = tick(started)
        self.last_refresh = started
        self.last_count_tick, self.last_counts_refresh = count_tick(started), started
        self.loaded = True
        # The index is hundreds of thousands of long-lived containers: a full collection would walk them all
        # (over a second at 100,000 ideas). Frozen, the collector leaves them out.
        gc.collect()
        gc.freeze()

    def invalidate(self) -> None:
        """Refresh on the next read (this process just changed more ideas than it says one by one)."""
        self.last_refresh = 0.0

    # This process's own writes show at once, without re-reading what changed in the store meanwhile (at tens
    # of writes a second, a refresh after each one would read every recent change again, each time); the other
    # processes see them at their next refresh, and so does this one, from the store.
    def seen(self, doc: dict | None) -> None:
        """This process just wrote the idea and read it back."""
        if doc is not None and self.loaded:
            self.put(card_of(doc))

    def counted(self, idea_id: str, **deltas: int) -> None:
        """This process just counted something on the idea (a vote, a comment): the card's counters move by
        as much, until the next refresh brings the store's own figures."""
        with self._lock:
            card = self.cards.get(idea_id)
            if card is not None:
                self.put(replace(card, **{name: getattr(card, name) + by for name, by in deltas.items()}))

    def _recount(self, doc: dict) -> None:
        """An idea's counters as the store holds them (an idea not loaded yet comes whole with its `tick`)."""
        card = self.cards.get(doc["_id"])
        if card is not None:
            self.put(replace(card, **{name: doc.get(name, 0) for name in COUNT_FIELDS}))

    def reread(self, ideas: IdeaRepository, *idea_ids: str) -> None:
        """This process just changed these ideas in ways it does not hold in hand (a merge, an adoption)."""
        for idea_id in idea_ids:
            self.seen(ideas.card(idea_id, CARD_FIELDS))

    def put(self, card: Card) -> None:
        with self._lock:
            old = self.cards.get(card.id)
            if old is not None:
                if old == card:
                    return
                self._remove(old)
            self.cards[card.id] = card
            for key in card.facet_values():
                self.facets.setdefault(key, set()).add(card.id)
            for term in card.terms:
                ids = self.terms.get(term)
                if ids is None:
                    self.terms[term] = ids = set()
                    self.vocabulary.add(term)
                ids.add(card.id)
            for order in self.orders.values():
                order.add(card)

    def _remove(self, card: Card) -> None:
        for key in card.facet_values():
            ids = self.facets.get(key)
            if ids is not None:
                ids.discard(card.id)
        for term in card.terms:
            ids = self.terms.get(term)
            if ids is not None:
                ids.discard(card.id)
        for order in self.orders.values():
            order.remove(card)

    # --- reading -------------------------------------------------------------------------------------
    def _word_sets(self, text: str) -> list[set[str]] | None:
        """Per word of `text`, the ideas that hold it (the last word may be the start of a word: typing);
        None when the text has no words, [set()] when a word is in no idea. Sets of the index itself are
        given as they are (read, never changed), so a common word costs nothing to look up."""
        query = [w for w in words(text) if w not in STOP] or words(text)
        if not query:
            return None
        found = []
        for i, word in enumerate(query):
            parts = [self.terms[word]] if word in self.terms else []
            if len(word) >= 4 and word[0] in HEBREW_PREFIXES and word[1:] in self.terms:
                parts.append(self.terms[word[1:]])
            if i == len(query) - 1 and len(word) >= PREFIX_FROM:
                parts += [self.terms[t] for t in itertools.islice(self.vocabulary.irange(word, word + "\uffff"),
                                                                  PREFIX_TERMS) if t != word]
            if not parts:
                return [set()]
            found.append(parts[0] if len(parts) == 1 else set().union(*parts))
        return found

    def _filters(self, query: Query) -> list[set[str]] | None:
        """The sets an idea must be in to match (facets, and each word of the text), smallest first; None
        when nothing can match."""
        sets = []
        for key in query.facets():
            ids = self.facets.get(key)
            if not ids:
                return None
            sets.append(ids)
        if query.text:
            found = self._word_sets(query.text)
            if found is not None:
                sets += found
        sets.sort(key=len)
        return None if sets and not sets[0] else sets

    def _intersection(self, sets: list[set[str]]):
        if not sets:
            return self.cards.keys()
        return sets[0] if len(sets) == 1 else sets[0].intersection(*sets[1:])

    def _walk_pays(self, sets: list[set[str]], limit: int) -> int:
        """How many cards to walk in an order before giving up and intersecting the sets instead (0: do not
        walk). A walk stops after `limit` + 1 matches, about (limit + 1) / (share matching) cards, each
        checked in Python (WALK_US); intersecting looks up each id of the smallest set in the others, in C
        (INTERSECT_US), then sorts what is left (SORT_US an idea). The share matching is estimated as if the
        filters were independent; a walk gets three times its estimate (filters that rarely meet end it)."""
        if not sets:
            return len(self.cards) + 1
        total = max(1, len(self.cards))
        share = math.prod(len(s) / total for s in sets)
        expected = min(len(sets[0]), total * share)
        walk = (limit + 1) / max(share, 1 / total)
        intersect = INTERSECT_US * len(sets[0]) * (len(sets) - 1) + SORT_US * expected
        return int(3 * walk) + 100 if WALK_US * walk < intersect else 0

    def search(self, query: Query, *, visible: Callable[[Card], bool], after: str | None = None,
               limit: int = 20) -> tuple[list[Card], str | None]:
        """A page of the ideas that match, in the asked order; the cursor is the last card's sort key. Either
        the order is walked, each card checked against the filters, or the filters' sets are intersected and
        the result sorted: whichever is expected to cost less (`_walk_pays`)."""
        with self._lock:
            sets = self._filters(query)
            if sets is None:
                return [], None
            wanted = (lambda c: visible(c) and (query.status == "merged" or not c.merged_into))
            matches = _matcher(sets, wanted)
            budget = self._walk_pays(sets, limit)
            if query.sort == "trending":
                return self._trending_page(sets, matches, after, limit, budget)
            key = SORT_KEYS[query.sort]
            start = _decode(after)
            picked: list[Card] | None = None
            if budget:
                order = self.orders[query.sort]
                iterator = order.irange_key(start, inclusive=(False, False)) if start else iter(order)
                picked = _first(iterator, matches, limit + 1, budget)
            if picked is None:
                candidates = self._intersection(sets)
                ranked = sorted((self.cards[i] for i in candidates), key=key)
                if start is not None:
                    ranked = [card for card in ranked if key(card) > start]
                picked = [card for card in itertools.islice(filter(wanted, ranked), limit + 1)]
            more = len(picked) > limit
            picked = picked[:limit]
            return picked, (_encode(key(picked[-1])) if more and picked else None)

    def rank_trending(self, force: bool = False) -> list[tuple[float, str]]:
        """The trending order. Scores drift slowly: it is recomputed every half minute, or within seconds
        when ideas were added; a process's background thread does it (`keep_fresh`), so requests rarely do."""
        return self._ranked(force)[0]

    def _ranked(self, force: bool = False) -> tuple[list[tuple[float, str]], dict[str, int]]:
        """The trending order, and each idea's place in it."""
        now = time.time()
        at, ranked, place = self._trending
        if force or now - at > TRENDING_SECONDS or len(ranked) != len(self.cards) and now - at > TRENDING_NEW_SECONDS:
            ranked = _ranked_by_score(list(self.cards.values()), now)
            place = {idea_id: n for n, (_, idea_id) in enumerate(ranked)}
            self._trending = (now, ranked, place)
        return ranked, place

    def keep_fresh(self, ideas: IdeaRepository, stop: threading.Event) -> None:
        """Follow the store and keep the trending order ranked, off the request path (a daemon thread)."""
        self.kept = True
        while not stop.wait(self.refresh_seconds):
            try:
                self.sync(ideas, keeper=True)
                self.rank_trending()
            except Exception:  # the store away for a moment: the next round tries again
                time.sleep(1)

    def _trending_page(self, sets, matches, after, limit, budget):
        """A page in trending order; the cursor is the place in that order of the next card."""
        ranked, place = self._ranked()
        start = int(after) if after and after.isdigit() else 0
        picked: list[tuple[int, Card]] | None = None
        if budget:
            cards = ((n, self.cards.get(ranked[n][1])) for n in range(start, len(ranked)))
            picked = _first(cards, lambda pair: pair[1] is not None and matches(pair[1]), limit + 1, budget)
        if picked is None:
            candidates = self._intersection(sets)
            placed = sorted((place[i], i) for i in candidates if place.get(i, -1) >= start)
            found = ((n, self.cards.get(i)) for n, i in placed)
            picked = list(itertools.islice(((n, c) for n, c in found if c is not None and matches(c)), limit + 1))
        more = len(picked) > limit
        return [card for _, card in picked[:limit]], (str(picked[limit][0]) if more else None)

    def similar(self, text: str, *, visible: Callable[[Card], bool], limit: int = 5,
                exclude: str | None = None) -> list[Card]:
        """Ideas that share the most telling words with `text` (rarer words weigh more), across branches.
        Only the rarest few words of the text are looked up: common ones say little and cost the most."""
        with self._lock:
            total = max(1, len(self.cards))
            known = [(len(self.terms[t]), t) for t in terms_of(text) if t not in STOP and self.terms.get(t)]
            scores: Counter[str] = Counter()
            for count, term in heapq.nsmallest(SIMILAR_TERMS, known):
                if total > 1000 and count > max(SIMILAR_MAX_POSTINGS, total * 0.02) or total > 50 and count > total * 0.2:
                    continue  # a word in that many ideas says little
                weight = math.log(1 + total / count)
                for idea_id in self.terms[term]:
                    scores[idea_id] += weight
            found = []
            for idea_id, _ in heapq.nlargest(limit * 4 + 1, scores.items(), key=lambda kv: kv[1]):
                card = self.cards[idea_id]
                if idea_id != exclude and not card.merged_into and visible(card):
                    found.append(card)
                    if len(found) == limit:
                        break
            return found


def _ranked_by_score(cards: list[Card], now: float) -> list[tuple[float, str]]:
    """(-trending score, id) of every card, best first. Sorted in chunks and merged: one sort of 100,000 would
    hold the interpreter lock for over 100 ms, and every request of the process would wait for it."""
    chunks = []
    for start in range(0, len(cards), RANK_CHUNK):
        chunk = [(-trending_score(c, now), c.id) for c in cards[start:start + RANK_CHUNK]]
        chunk.sort()
        chunks.append(chunk)
    return list(heapq.merge(*chunks)) if len(chunks) > 1 else (chunks[0] if chunks else [])


def _matcher(sets: list[set[str]], wanted: Callable[[Card], bool]) -> Callable[[Card], bool]:
    """Whether a card is in every set and wanted (the common cases spelled out: this runs per card walked)."""
    if not sets:
        return wanted
    if len(sets) == 1:
        only = sets[0]
        return lambda c: c.id in only and wanted(c)
    if len(sets) == 2:
        first, second = sets
        return lambda c: c.id in first and c.id in second and wanted(c)
    return lambda c: all(c.id in s for s in sets) and wanted(c)


def _first(items: Iterable, keep: Callable, wanted: int, budget: int) -> list | None:
    """The first `wanted` items that `keep` accepts (fewer if the items run out), or None when that takes
    looking at more than `budget` items."""
    found = []
    for looked, item in enumerate(items):
        if looked == budget:
            return None
        if keep(item):
            found.append(item)
            if len(found) == wanted:
                break
    return found


def _encode(key: tuple) -> str:
    return "~".join(f"{k!r}" if isinstance(k, float) else str(k) for k in key)


def _decode(cursor: str | None) -> tuple | None:
    if not cursor:
        return None
    parts = cursor.split("~")
    try:
        return tuple(float(p) if i < len(parts) - 1 else p for i, p in enumerate(parts))
    except ValueError:
        return None
