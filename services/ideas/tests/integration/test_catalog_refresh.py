"""The browse index of one web process following what other processes wrote, against the real store: a vote
another process counted shows at the next refresh of counters, read as counters alone, and an edit at the next
refresh of cards."""
from __future__ import annotations

from services.ideas.catalog import Catalog
from services.ideas.repository import Ballot, IdeaRepository


def refreshed(catalog: Catalog, repository: IdeaRepository, *, counters: bool) -> None:
    catalog.last_refresh = 0.0  # as a second later
    if counters:
        catalog.last_counts_refresh = 0.0  # as ten seconds later
    catalog.sync(repository)


def test_counts_and_edits_made_by_another_process_show_at_this_ones_next_refreshes(org):
    repository = IdeaRepository(org.db)
    idea = org.submit("p1", title="Evening library hours")
    ours = Catalog()
    ours.sync(repository)
    assert ours.cards[idea["id"]].votes == 0
    org.db.ideas.update_one({"_id": idea["id"]}, {"$set": {"tick": 0}})  # its card long since read everywhere

    # another web process: three votes (its Ballot writes the counters), then an edit of the title
    elsewhere = Ballot(org.db)
    for person in ("pe_x1", "pe_x2", "pe_x3"):
        assert elsewhere.cast(idea["id"], person, [], []) == (True, True)
    refreshed(ours, repository, counters=False)
    assert ours.cards[idea["id"]].votes == 0  # counters come with their own refresh
    refreshed(ours, repository, counters=True)
    card = ours.cards[idea["id"]]
    assert (card.votes, card.followers, card.title) == (3, 4, "Evening library hours")  # the author follows too

    org.api.ok("PATCH", f"/ideas/{idea['id']}", org.tokens["p1"], json={"title": "Evening library, open late"})
    refreshed(ours, repository, counters=False)
    card = ours.cards[idea["id"]]
    assert (card.title, card.votes) == ("Evening library, open late", 3)  # the edit, counters kept
