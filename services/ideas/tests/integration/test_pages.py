"""The ideas pages through the Flask client, against the real store: every page in Hebrew (right to left) and
English for participants and staff, who sees which controls, forms that change state, refusals said on the page
without changing anything, and CSRF."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from services.ideas.tests.conftest import tell
from conftest import PageVisitor, direction, text_of

IDEAS = Path(__file__).resolve().parents[2]


def Visitor(app, token: str | None, lang: str = "en") -> PageVisitor:  # noqa: N802 (reads as the class it makes)
    return PageVisitor(app, "/ideas", token, lang, csrf_page="/new")


@pytest.fixture
def visit(ideas_app, org):
    app, _ = ideas_app

    def make(who: str | None, lang: str = "en") -> Visitor:
        return Visitor(app, org.tokens[who] if who else None, lang)

    return make




def options(page: str, select_id: str) -> list[str]:
    select = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page, re.S).group(1)
    return re.findall(r'<option value="([^"]*)"', select)


def idea_doc(org, idea_id: str) -> dict:
    return org.db["ideas"].find_one({"_id": idea_id})


# --- every page, both languages, both kinds of people -----------------------------------------------------

@pytest.mark.parametrize("lang, dir_, heading", [("he", "rtl", "הוספת תגובה"), ("en", "ltr", "Add a comment")])
def test_every_page_renders_in_the_frame_in_hebrew_and_english_for_participants_and_staff(
        org, visit, lang, dir_, heading):
    idea = org.submit()
    participant, staff = visit("p1", lang), visit("staff_a", lang)
    for who, path in [(participant, "/"), (participant, "/new"), (participant, f"/{idea['id']}"),
                      (staff, "/"), (staff, "/new"), (staff, f"/{idea['id']}"), (staff, f"/board?branch_id={org.a}"),
                      (staff, "/review"), (staff, f"/moderation?branch_id={org.a}")]:
        page = who.page(path)
        assert direction(page) == (lang, dir_), path
        assert '<main id="main"' in page and "<h1" in page and 'href="/ideas/" aria-current="page"' in page, path
    idea_page = participant.page(f"/{idea['id']}")
    assert heading in idea_page and "A quiet room for homework" in idea_page
    month = re.search(r'<time datetime="[^"]+">([^<]+)</time>', idea_page).group(1)
    assert re.search("[\u0590-\u05FF]" if lang == "he" else "[A-Z][a-z]{2}", month), month  # dates per locale


def test_anyone_not_signed_in_sees_what_ideas_are_and_is_sent_to_sign_in_for_the_rest(org, visit):
    anonymous = visit(None)
    assert "Share an idea to improve your branch" in anonymous.page("/")
    response = anonymous.get("/new")
    assert response.status_code == 302
    assert response.headers["Location"] == "/directory/signin?next=%2Fideas%2Fnew"


# --- who sees which controls -----------------------------------------------------------------------------

def test_a_participant_sees_no_staff_controls_and_is_refused_the_staff_pages(org, visit):
    idea = org.submit()
    participant = visit("p2")
    page = participant.page(f"/{idea['id']}")
    for control in ('id="status-form"', 'name="official"', 'name="into_idea_id"', "Manage this idea",
                    'href="/ideas/board"', 'href="/ideas/moderation"'):
        assert control not in page, control
    assert 'id="vote-button"' in page and 'aria-pressed="false"' in page
    for path in (f"/board?branch_id={org.a}", "/review", f"/moderation?branch_id={org.a}"):
        assert participant.get(path).status_code == 403, path
    # and a form post of staff's is refused by the use case, said on the page
    refused = participant.post(f"/{idea['id']}/status", {"status": "under_review"})
    assert refused.status_code == 403 and "Only staff of the idea" in text_of(refused.get_data(as_text=True))
    assert idea_doc(org, idea["id"])["status"] == "submitted"


def test_staff_of_the_ideas_branch_get_its_controls_with_only_the_allowed_next_statuses(org, visit):
    idea = org.submit()
    page = visit("staff_a").page(f"/{idea['id']}")
    assert options(page, "new-status") == ["under_review", "declined"]
    assert options(page, "reason-code") == ["", "not_feasible", "out_of_scope", "policy", "budget",
                                            "already_exists", "other"]
    assert 'name="official"' in page and 'id="merge-into"' in page
    # staff of another branch manage nothing here
    other = visit("staff_b").page(f"/{idea['id']}")
    assert 'id="status-form"' not in other and 'name="official"' not in other
    assert visit("staff_b").get(f"/board?branch_id={org.a}").status_code == 403


# --- forms that change state -----------------------------------------------------------------------------

def test_a_vote_through_the_page_counts_once_and_pressing_again_withdraws_it(org, visit):
    idea = org.submit()
    voter = visit("p2")
    for _ in range(2):  # a repeated press (a double click) changes nothing more
        response = voter.post(f"/{idea['id']}/vote", {"do": "vote"})
        assert response.status_code == 302 and response.headers["Location"].endswith(
            f"/ideas/{idea['id']}?done=vote#take-part")
    assert idea_doc(org, idea["id"])["votes"] == 1
    page = voter.page(f"/{idea['id']}?done=vote")
    assert re.search(r'id="vote-button" class="toggle" aria-pressed="true"', page)
    assert "Your vote was counted." in page and "1 vote" in text_of(page)
    voter.post(f"/{idea['id']}/vote", {"do": "unvote"})
    assert idea_doc(org, idea["id"])["votes"] == 0


def test_follow_and_volunteer_with_a_note_through_the_page(org, visit):
    idea = org.submit()
    helper = visit("p3")
    assert helper.post(f"/{idea['id']}/volunteer", {"do": "volunteer", "note": "I can paint"}).status_code == 302
    assert helper.post(f"/{idea['id']}/follow", {"do": "unfollow"}).status_code == 302
    page = helper.page(f"/{idea['id']}")
    assert 'id="unvolunteer-button"' in page and re.search(r'id="follow-button" class="toggle" aria-pressed="false"', page)
    staff_page = visit("staff_a").page(f"/{idea['id']}")
    assert "Participant 3" in staff_page and "I can paint" in staff_page  # staff see who offered to help
    too_long = helper.post(f"/{idea['id']}/volunteer", {"do": "volunteer", "note": "x" * 501})
    assert too_long.status_code == 422


def test_staff_move_an_idea_to_under_review_through_the_page_and_the_history_says_who_and_when(org, visit):
    idea = org.submit()
    staff = visit("staff_a")
    response = staff.post(f"/{idea['id']}/status", {"status": "under_review", "note": "We are looking at rooms.",
                                                     "version": "1"})
    assert response.status_code == 302
    assert idea_doc(org, idea["id"])["status"] == "under_review"
    history = re.search(r'<ol class="history">(.*?)</ol>', visit("p1").page(f"/{idea['id']}"), re.S).group(1)
    assert "Under review" in history and "Dana (staff A)" in history and "We are looking at rooms." in history
    assert "Participant 1" in history  # who submitted it


def test_a_decline_without_its_reason_is_refused_on_the_page_in_the_readers_language_and_changes_nothing(
        org, visit):
    idea = org.submit()
    for lang, said in (("en", "A decline needs a reason code."), ("he", "דחייה מחייבת סיבה.")):
        response = visit("staff_a", lang).post(f"/{idea['id']}/status", {"status": "declined", "note": "No room."})
        page = response.get_data(as_text=True)
        assert response.status_code == 422 and 'role="alert"' in page and said in page
        assert 'id="reason-code" name="reason_code" aria-invalid="true"' in page
        assert "No room." in page  # what was typed stays
    assert idea_doc(org, idea["id"])["status"] == "submitted"
    stale = visit("staff_a").post(f"/{idea['id']}/status", {"status": "under_review", "version": "7"})
    assert stale.status_code == 409 and "reload and try again" in stale.get_data(as_text=True)
    assert idea_doc(org, idea["id"])["status"] == "submitted"


def test_an_empty_comment_is_refused_on_the_page_and_nothing_is_posted(org, visit):
    idea = org.submit()
    response = visit("p2", "he").post(f"/{idea['id']}/comments", {"text": "   "})
    assert response.status_code == 422 and "תגובה היא באורך 1 עד 4,000 תווים." in response.get_data(as_text=True)
    assert org.db["comments"].count_documents({"idea_id": idea["id"]}) == 0


def test_a_form_post_without_the_csrf_token_is_refused_before_anything_changes(org, visit):
    idea = org.submit()
    response = visit("p2").post(f"/{idea['id']}/vote", {"do": "vote"}, csrf=False)
    assert response.status_code == 403 and response.mimetype == "application/problem+json"
    assert idea_doc(org, idea["id"])["votes"] == 0


# --- browse --------------------------------------------------------------------------------------------

def test_browsing_filters_by_branch_status_tag_and_words_and_pages_on_with_a_more_link(org, visit):
    tag = f"t{org.a[-6:]}"
    for i in range(22):
        org.submit(title=f"Idea number {i}", tags=[tag], branch_id=org.b if i % 2 else org.a)
    org.submit(title="Garden benches", description="Benches under the trees.", tags=[tag])
    reader = visit("p1")
    first = reader.page(f"/?tag={tag}&sort=newest")
    assert first.count('class="idea-card') == 20 and "Garden benches" in first
    more = html.unescape(re.search(r'<a class="more" href="([^"]+)"', first).group(1))
    rest = reader.page(more.removeprefix("/ideas"))
    assert rest.count('class="idea-card') == 3 and 'class="more"' not in rest
    only_b = reader.page(f"/?tag={tag}&branch_id={org.b}")
    assert only_b.count('class="idea-card') == 11 and f'<option value="{org.b}" selected>' in only_b
    assert reader.page(f"/?tag={tag}&q=trees").count('class="idea-card') == 1
    assert reader.page(f"/?tag={tag}&status=declined").count('class="idea-card') == 0
    bad = reader.get("/?status=bogus")
    assert bad.status_code == 422 and "Check the filters" in bad.get_data(as_text=True)


# --- submit ----------------------------------------------------------------------------------------------

def test_submitting_an_idea_through_the_page_leads_to_it_and_a_bad_title_creates_nothing(org, visit):
    author = visit("p1")
    page = author.page("/new")
    assert org.a in options(page, "branch") and 'id="channel"' not in page  # staff only
    before = org.db["ideas"].count_documents({})
    refused = author.post("/new", {"title": "ab", "description": "Too short a title.", "branch_id": org.a})
    assert refused.status_code == 422 and "A title is 3 to 140 characters." in refused.get_data(as_text=True)
    assert 'id="title" name="title"' in refused.get_data(as_text=True)
    assert org.db["ideas"].count_documents({}) == before

    response = author.post("/new", {"title": "Board games on Fridays", "description": "Bring games, meet people.",
                                    "branch_id": org.a, "tags": "Games, evenings", "age_groups": ["18_29", "65_plus"],
                                    "population_groups": "general"})
    assert response.status_code == 302
    idea_id = re.search(r"/ideas/(id_[0-9a-f]+)\?done=submitted", response.headers["Location"]).group(1)
    doc = idea_doc(org, idea_id)
    assert (doc["title"], doc["tags"], doc["age_groups"], doc["author_id"]) == (
        "Board games on Fridays", ["games", "evenings"], ["18_29", "65_plus"], org.ids["p1"])
    assert "Your idea was shared." in author.page(f"/{idea_id}?done=submitted")


def test_staff_enter_a_clients_idea_from_the_page_only_with_the_clients_consent(org, visit):
    staff = visit("staff_a")
    assert options(staff.page("/new"), "channel") == ["web", "in_person", "phone", "kiosk"]
    body = {"title": "A bench by the door", "description": "For those who wait.", "branch_id": org.a,
            "channel": "phone", "client_name": "Moshe"}
    refused = staff.post("/new", body)
    assert refused.status_code == 422 and "Record the client" in refused.get_data(as_text=True)
    response = staff.post("/new", dict(body, consent="yes"))
    idea_id = re.search(r"/ideas/(id_[0-9a-f]+)", response.headers["Location"]).group(1)
    doc = idea_doc(org, idea_id)
    assert (doc["channel"], doc["author_name"], doc["entered_by"], doc["consent_recorded"]) == (
        "phone", "Moshe", org.ids["staff_a"], True)
    unnamed = staff.post("/new", dict(body, client_name="", consent="yes", channel="kiosk"))
    page = staff.page(re.search(r"/ideas(/id_[0-9a-f]+)", unnamed.headers["Location"]).group(1))
    assert "by a client" in text_of(page) and "At a kiosk" in page


def test_similar_ideas_across_branches_come_while_typing_and_without_scripts(org, visit):
    org.submit("p2", title="Chess club for teenagers", description="Weekly chess lessons.", branch_id=org.b)
    author = visit("p1")
    fragment = author.page("/similar?text=chess%20evenings")
    assert "Chess club for teenagers" in fragment and "<html" not in fragment
    assert author.page("/similar?text=").strip() == ""
    checked = author.post("/new", {"title": "Chess evenings", "description": "", "check": "1"})
    assert checked.status_code == 200 and "Chess club for teenagers" in checked.get_data(as_text=True)
    assert org.db["ideas"].count_documents({"title": "Chess evenings"}) == 0


# --- the dialogue ----------------------------------------------------------------------------------------

def test_the_dialogue_threads_replies_marks_official_responses_edits_mentions_and_former_participants(org, visit):
    idea = org.submit()
    p1, p2, staff = visit("p1"), visit("p2"), visit("staff_a")
    p1.post(f"/{idea['id']}/comments", {"text": "Room 3 is empty after four."})
    first = org.db["comments"].find_one({"idea_id": idea["id"]})
    staff.post(f"/{idea['id']}/comments", {"text": "We will try room 3.", "parent_id": first["_id"],
                                           "official": "yes"})
    p2.post(f"/{idea['id']}/comments", {"text": "Ask the manager.", "mentions": [org.ids["manager_a"]]})
    p1.post(f"/{idea['id']}/comments/{first['_id']}", {"text": "Room 3 is empty after four o'clock."})
    tell(org.db, "cocreate.person.erased.v1", org.ids["p2"], {"person_id": org.ids["p2"]})

    page = visit("p3").page(f"/{idea['id']}")
    thread = re.search(r'<ol class="thread">(.*)</section>', page, re.S).group(1)
    reply = re.search(r'<ol class="thread">\s*<li id="c-(cm_[0-9a-f]+)">.*?class="comment official"', thread, re.S)
    assert reply, "the official response is a reply, one level in, marked as official"
    assert "Official response" in thread and "(edited)" in thread and "four o&#39;clock" in thread
    assert "@Avi (manager A)" in thread and "a former participant" in thread
    assert 'name="official"' not in page  # participants never get the official box


def test_a_flagged_comment_is_hidden_from_the_moderation_page_with_a_reason(org, visit):
    idea = org.submit()
    p1, p2, staff = visit("p1"), visit("p2"), visit("staff_a")
    p1.post(f"/{idea['id']}/comments", {"text": "Buy my watches at example.com"})
    comment = org.db["comments"].find_one({"idea_id": idea["id"]})
    assert p2.post(f"/{idea['id']}/flag", {"comment_id": comment["_id"], "reason": "Advertising"}).status_code == 302

    queue = staff.page(f"/moderation?branch_id={org.a}")
    assert "Buy my watches" in queue and "Advertising" in queue
    refused = staff.post(f"/moderation/{comment['_id']}?branch_id={org.a}", {"action": "hide", "reason": " "})
    assert refused.status_code == 422 and "Give the reason for the decision." in refused.get_data(as_text=True)
    assert not org.db["comments"].find_one({"_id": comment["_id"]})["hidden"]

    done = staff.post(f"/moderation/{comment['_id']}?branch_id={org.a}", {"action": "hide", "reason": "Spam"})
    assert done.status_code == 302 and f"branch_id={org.a}" in done.headers["Location"]
    assert org.db["comments"].find_one({"_id": comment["_id"]})["hidden"]
    assert "Buy my watches" not in p2.page(f"/{idea['id']}")
    assert "Hidden by the moderators" in staff.page(f"/{idea['id']}")
    assert "Buy my watches" not in staff.page(f"/moderation?branch_id={org.a}")


# --- staff: board, review queue, merge, adopt -------------------------------------------------------------

def test_the_board_shows_the_branchs_ideas_by_status_and_the_review_queue_the_oldest_first(org, visit):
    older = org.submit(title="Longer opening hours")
    newer = org.submit(title="Water cooler in the hall")
    moved = org.submit(title="Shade over the playground")
    org.api.ok("POST", f"/ideas/{moved['id']}/status", org.tokens["staff_a"], json={"status": "under_review"})
    staff = visit("staff_a")
    board = staff.page(f"/board?branch_id={org.a}")
    submitted = re.search(r'id="col-submitted".*?</section>', board, re.S).group(0)
    review = re.search(r'id="col-under_review".*?</section>', board, re.S).group(0)
    assert "Longer opening hours" in submitted and "Shade over the playground" in review
    assert "Shade over the playground" not in submitted
    queue = staff.page("/review")
    assert queue.index(older["id"]) < queue.index(newer["id"]) and moved["id"] not in queue


def test_merging_through_the_page_moves_the_votes_and_can_be_undone(org, visit):
    kept, duplicate = org.submit(title="A reading corner"), org.submit(title="Reading corner for kids")
    org.api.ok("PUT", f"/ideas/{duplicate['id']}/vote", org.tokens["p2"])
    staff = visit("staff_a")
    assert "Merge into this one" in staff.page(f"/{duplicate['id']}")  # a likely duplicate is offered
    response = staff.post(f"/{duplicate['id']}/merge", {"into_idea_id": f"http://localhost/ideas/{kept['id']}"})
    assert response.status_code == 302
    assert idea_doc(org, duplicate["id"])["merged_into"] == kept["id"] and idea_doc(org, kept["id"])["votes"] == 1
    page = visit("p1").page(f"/{duplicate['id']}")
    assert "This idea was merged into another one" in page and f'href="/ideas/{kept["id"]}"' in page
    assert staff.post(f"/{duplicate['id']}/unmerge").status_code == 302
    assert idea_doc(org, duplicate["id"])["status"] == "submitted" and idea_doc(org, kept["id"])["votes"] == 0
    unknown = staff.post(f"/{duplicate['id']}/merge", {"into_idea_id": "id_0000000000000000"})
    assert unknown.status_code == 422 and "Unknown idea to merge into." in unknown.get_data(as_text=True)


def test_staff_of_another_branch_adopt_an_implemented_idea_and_both_pages_show_where_it_spread(org, visit):
    idea = org.submit(title="Homework club")
    for status in ("under_review", "planned", "in_progress", "implemented"):
        org.api.ok("POST", f"/ideas/{idea['id']}/status", org.tokens["staff_a"], json={"status": status})
    other = visit("staff_b")
    page = other.page(f"/{idea['id']}")
    assert options(page, "adopt-branch") == [org.b]
    response = other.post(f"/{idea['id']}/adopt", {"branch_id": org.b})
    adopted_id = re.search(r"/ideas/(id_[0-9a-f]+)\?done=adopt", response.headers["Location"]).group(1)
    assert adopted_id != idea["id"]
    adopted = other.page(f"/{adopted_id}")
    assert "Adopted from Branch A" in text_of(adopted) and 'class="status status-planned"' in adopted
    source = visit("p1").page(f"/{idea['id']}")
    assert "Where it spread" in source and f'href="/ideas/{adopted_id}"' in source
    assert 'id="adopt-branch"' not in other.page(f"/{idea['id']}")  # once per branch
    assert visit("p1").post(f"/{idea['id']}/adopt", {"branch_id": org.a}).status_code == 403


# --- the use cases' refusals are all translatable ---------------------------------------------------------

def test_every_fixed_refusal_of_the_use_cases_has_a_hebrew_translation():
    sources = "".join((IDEAS / name).read_text() for name in ("domain.py", "services.py", "repository.py"))
    unmarked = re.findall(r'(?:DomainError|Forbidden|Conflict)\(\s*"([^"{}]+)"', sources)
    assert not unmarked, f"mark fixed refusals with N_: {unmarked}"
    said = set(re.findall(r'N_\(\s*"([^"]+)"\)', sources))
    with (IDEAS / "translations/he/LC_MESSAGES/messages.po").open("rb") as f:
        translated = {m.id for m in read_po(f) if m.id and m.string and not m.fuzzy}
    assert said and not said - translated, sorted(said - translated)
