"""The catalog (browse and search index) without the store: words, filters, orders, cursors, similarity."""
from datetime import datetime, timedelta, timezone

from services.ideas.catalog import Catalog, Query, card_of, terms_of, words

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def doc(i, title, description="", **kw):
    base = {"_id": f"id_{i:016d}", "branch_id": "br_a", "branch_key": "br_a", "region_id": "rg_1",
            "status": "submitted", "tags": [], "age_groups": [], "population_groups": [], "author_id": "pe_1",
            "title": title, "description": description, "votes": 0, "created_at": T0 + timedelta(hours=i)}
    base.update(kw)
    return base


def catalog(*docs):
    c = Catalog()
    for d in docs:
        c.put(card_of(d))
    return c


def ids(found):
    return [c.id[-2:] for c in found[0]]


everyone = lambda card: True  # noqa: E731


def test_words_are_normalized_across_niqqud_case_and_final_letters():
    assert words("שָׁלוֹם World") == ["שלומ", "world"]
    assert {"בגינה", "גינה"} <= terms_of("בגינה")


def test_filters_intersect_and_orders_sort():
    c = catalog(doc(1, "a", votes=5, tags=["x"]), doc(2, "b", votes=9), doc(3, "c", votes=1, tags=["x"],
                                                                           branch_key="br_b", branch_id="br_b"))
    assert ids(c.search(Query(sort="newest"), visible=everyone)) == ["03", "02", "01"]
    assert ids(c.search(Query(sort="top"), visible=everyone)) == ["02", "01", "03"]
    assert ids(c.search(Query(tag="x", branch="br_a"), visible=everyone)) == ["01"]
    assert ids(c.search(Query(tag="nope"), visible=everyone)) == []


def test_a_cursor_continues_where_the_page_ended_on_both_paths():
    many = [doc(i, f"idea {i}", votes=i % 7) for i in range(1, 40)]
    c = catalog(*many)
    for query in (Query(sort="top"), Query(sort="top", branch="br_a")):  # walk the order, or sort the set
        seen, after = [], None
        while True:
            page, after = c.search(query, visible=everyone, after=after, limit=6)
            seen += [card.id for card in page]
            if after is None:
                break
        assert len(seen) == len(set(seen)) == 39


def test_search_needs_every_word_and_takes_the_last_as_a_beginning():
    c = catalog(doc(1, "Library corner", "books for children"), doc(2, "Longer hours", "open the library"),
                doc(3, "גינה קהילתית", "ירקות עם הילדים"))
    assert ids(c.search(Query(text="library"), visible=everyone)) == ["02", "01"]
    assert ids(c.search(Query(text="library child"), visible=everyone)) == ["01"]
    assert ids(c.search(Query(text="בגינה"), visible=everyone)) == ["03"]
    assert ids(c.search(Query(text="ירק"), visible=everyone)) == ["03"]


def test_hidden_and_merged_ideas_stay_out_unless_allowed():
    c = catalog(doc(1, "a", hidden=True), doc(2, "b", merged_into="id_1", status="merged"), doc(3, "c"))
    assert ids(c.search(Query(), visible=lambda card: not card.hidden)) == ["03"]
    assert ids(c.search(Query(), visible=everyone)) == ["03", "01"]
    assert ids(c.search(Query(status="merged"), visible=everyone)) == ["02"]


def test_a_changed_idea_replaces_its_card_everywhere():
    c = catalog(doc(1, "Shade", tags=["yard"]))
    c.put(card_of(doc(1, "Shelter", tags=["roof"], status="planned")))
    assert ids(c.search(Query(tag="yard"), visible=everyone)) == []
    assert ids(c.search(Query(tag="roof", status="planned", text="shelter"), visible=everyone)) == ["01"]
    assert ids(c.search(Query(text="shade"), visible=everyone)) == []


def test_similar_ideas_share_the_telling_words():
    c = catalog(doc(1, "Quiet homework room", "a room for homework after school"), doc(2, "Evening yoga"),
                doc(3, "Homework club", "volunteers help with homework"))
    found = [card.id[-2:] for card in c.similar("homework help for kids", visible=everyone)]
    assert found[0] == "03" and "01" in found and "02" not in found


def test_walking_the_order_and_intersecting_the_sets_find_the_same_pages():
    """Each query can be answered two ways (catalog._walk_pays picks the cheaper): walk the sorted order
    checking every filter, or intersect the filters' sets and sort what is left; a walk cut short by its
    budget falls back to the second. All three give the same pages, cursors included, in every order."""
    import random

    rng = random.Random(5)
    vocabulary = ["garden", "gardening", "library", "youth", "music", "קהילה", "גינה", "חוג", "רובוטיקה", "ספורט"]
    docs = [doc(i, " ".join(rng.sample(vocabulary, 2)), " ".join(rng.sample(vocabulary, 3)),
                votes=rng.randrange(5), tags=rng.sample(["x", "y", "z"], rng.randint(0, 2)),
                region_id=rng.choice(["rg_1", "rg_2"]), status=rng.choice(["submitted", "planned"]),
                hidden=rng.random() < 0.05, merged_into="id_1" if rng.random() < 0.05 else None)
            for i in range(1, 400)]
    c = catalog(*docs)
    visible = lambda card: not card.hidden  # noqa: E731
    queries = [Query(sort=sort, **filters) for sort in ("newest", "top", "updated", "trending")
               for filters in ({}, {"tag": "x"}, {"tag": "x", "region": "rg_2"}, {"text": "garden"},
                               {"text": "חוג רוב", "status": "planned"}, {"text": "library gard", "tag": "y"},
                               {"tag": "nope"}, {"text": "nothing"})]

    def pages(query, budget):
        c._walk_pays = lambda sets, limit: budget
        seen, after = [], None
        while True:
            page, after = c.search(query, visible=visible, after=after, limit=7)
            seen.append([card.id for card in page])
            if after is None:
                return seen

    for query in queries:
        walked, intersected, cut_short = pages(query, 10**9), pages(query, 0), pages(query, 5)
        assert walked == intersected == cut_short, query
        found = [i for page in walked for i in page]
        assert len(found) == len(set(found))
        expected = [d["_id"] for d in docs if not d.get("hidden") and not d.get("merged_into")
                    and (not query.tag or query.tag in d["tags"])]
        if not query.text and not query.status and not query.region:
            assert sorted(found) == sorted(expected), query
    assert any(len(p) > 2 for p in (pages(Query(tag="x"), 0),))  # the pages did span a cursor


def test_with_a_keeper_thread_requests_leave_the_refresh_to_it():
    """A web worker's keeper thread (keep_fresh) follows the store; a request that finds the catalog a few
    seconds old answers from it instead of reading the store on its own time, unless the keeper is stuck."""
    import time

    class Store:
        reads = 0

        def all_cards(self, projection, batch=2000):
            return [doc(1, "a")]

        def changed_since(self, ticks, projection, field="tick"):
            Store.reads += 1
            return []

    c, store = Catalog(refresh_seconds=1.0), Store()
    c.sync(store)
    c.last_refresh = time.time() - 2
    c.sync(store)
    assert Store.reads == 1  # no keeper: the request refreshes
    c.kept, c.last_refresh = True, time.time() - 2
    c.sync(store)
    assert Store.reads == 1
    c.sync(store, keeper=True)
    assert Store.reads == 2
    c.last_refresh = time.time() - 60  # the keeper is stuck
    c.sync(store)
    assert Store.reads == 3
