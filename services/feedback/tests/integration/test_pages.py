"""The feedback pages through the Flask client, against the real store: staff build a survey in the builder
(bad input refused field by field, nothing made), open it, and see its walk-in link, its QR code and its results
under the privacy threshold; participants are refused the staff pages, read the questions behind the walk-in link,
answer once (after signing in) and give quick feedback; the branch dashboard hides every cell behind fewer than 5
people. Last, in real Chromium on a live server, the whole round in Hebrew and in English."""
from __future__ import annotations

import re
import threading
from datetime import date, timedelta

import pytest
from conftest import PageVisitor, close_contexts, direction, text_of



def Visitor(app, token: str | None, lang: str = "en") -> PageVisitor:  # noqa: N802 (reads as the class it makes)
    return PageVisitor(app, "/feedback", token, lang, csrf_page="/")


@pytest.fixture
def visit(feedback_app, org):
    app, _ = feedback_app

    def make(who: str | None, lang: str = "en") -> Visitor:
        return Visitor(app, org.tokens[who] if who else None, lang)

    return make




def in_days(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def builder_form(org, **changes) -> dict:
    form = {"title_he": "איך הייתה הסדנה?", "title_en": "How was the workshop?", "branch_id": org.a,
            "closes_at": in_days(20), "anonymous": "no",
            "q1.type": "csat", "q1.he": "כמה הייתם מרוצים?", "q1.en": "How satisfied were you?",
            "q2.type": "nps", "q2.he": "האם תמליצו עלינו?", "q2.en": "Would you recommend us?",
            "q3.type": "single", "q3.he": "איך שמעתם עלינו?", "q3.en": "How did you hear of us?",
            "q3.options_he": "חברים\nפייסבוק\nבסניף", "q3.options_en": "Friends\nFacebook\nAt the branch",
            "q4.type": "text", "q4.he": "משהו נוסף?", "q4.en": "Anything else?", "q4.optional": "1",
            "q5.type": "csat", "q5.he": "", "q5.en": ""}
    form.update(changes)
    return form


def surveys_of(org, branch_id: str) -> list[dict]:
    return list(org.db["surveys"].find({"branch_id": branch_id}))


def survey_id_of(response) -> str:
    return re.search(r"/feedback/surveys/(sv_[0-9a-f]+)", response.headers["Location"]).group(1)


# --- the builder ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang, dir_, heading", [("he", "rtl", "סקר חדש"), ("en", "ltr", "New survey")])
def test_staff_build_a_survey_in_the_builder_open_it_and_see_its_link_and_qr_code(org, visit, lang, dir_,
                                                                                  heading):
    staff = visit("staff_a", lang)
    page = staff.page("/surveys/new")
    assert direction(page) == (lang, dir_) and heading in text_of(page)
    for field in ("title-he", "title-en", "branch_id", "closes_at", "q1-type", "q1-he", "q1-en", "q5-options_en"):
        assert f'<label for="{field}">' in page, field  # every control has its label
    response = staff.post("/surveys/new", builder_form(org))
    assert response.status_code == 303
    survey_id = survey_id_of(response)
    made = org.api.ok("GET", f"/surveys/{survey_id}", org.tokens["staff_a"])
    assert made["status"] == "draft" and made["branch_id"] == org.a and made["anonymous"] is False
    assert [q["type"] for q in made["questions"]] == ["csat", "nps", "single", "text"]
    assert [o["text"]["en"] for o in made["questions"][2]["options"]] == ["Friends", "Facebook", "At the branch"]
    assert made["questions"][3]["required"] is False and made["title"]["he"] == "איך הייתה הסדנה?"

    assert staff.post(f"/surveys/{survey_id}/open").status_code == 303
    assert org.api.ok("GET", f"/surveys/{survey_id}", org.tokens["staff_a"])["status"] == "open"
    page = staff.page(f"/surveys/{survey_id}?done=opened")
    assert f'href="/feedback/s/{made["public_token"]}"' in page
    qr = re.search(r'<figure class="qr" id="qr">\s*<svg [^>]*role="img"[^>]*>.*?</svg>', page, re.S)
    assert qr and "<path" in qr.group(0) and "href" not in qr.group(0)  # drawn inline, nothing fetched
    assert ("הסקר פתוח" if lang == "he" else "The survey is open") in text_of(page)
    assert staff.post(f"/surveys/{survey_id}/close").status_code == 303
    assert org.api.ok("GET", f"/surveys/{survey_id}", org.tokens["staff_a"])["status"] == "closed"


@pytest.mark.parametrize("lang, summary, title_message", [
    ("he", "תקנו את השדות האלה:", "כתבו את הכותרת בעברית ובאנגלית"),
    ("en", "Fix these fields:", "Give the title in Hebrew and in English")])
def test_bad_builder_input_is_refused_field_by_field_and_nothing_is_made(org, visit, lang, summary, title_message):
    before = len(surveys_of(org, org.a))
    form = builder_form(org, title_en="", closes_at="not a date", **{"q3.options_en": "Friends"})
    response = visit("staff_a", lang).post("/surveys/new", form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert summary in text_of(page) and title_message in text_of(page)
    for field in ("title-en", "closes_at", "q3-options"):
        assert f'id="{field}-error"' in page, field
    assert re.search(r'id="title-en"[^>]*aria-invalid="true"', page)
    assert 'value="איך הייתה הסדנה?"' in page and "חברים\nפייסבוק" in page  # what was written stays
    assert len(surveys_of(org, org.a)) == before


def test_a_closing_date_in_the_past_is_the_use_cases_refusal_said_on_the_page(org, visit):
    response = visit("staff_a", "he").post("/surveys/new", builder_form(org, closes_at=in_days(-3)))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "סקר נסגר אחרי שהוא נפתח." in text_of(page)
    assert re.search(r'id="closes_at-error">סקר נסגר אחרי שהוא נפתח.<', page)
    assert not surveys_of(org, org.a)


def test_staff_may_not_build_a_survey_for_another_branch(org, visit):
    response = visit("staff_a").post("/surveys/new", builder_form(org, branch_id=org.b))
    assert response.status_code == 403 and "Only staff of the branch may do this." in response.get_data(as_text=True)
    assert not surveys_of(org, org.b)


def test_a_participant_is_refused_the_builder_and_the_staff_survey_page(org, visit):
    made = org.survey()
    participant = visit("p1")
    assert "Only the staff of the branch see this page." in participant.page("/surveys/new", 403)
    assert participant.post("/surveys/new", builder_form(org)).status_code == 403
    assert "Only the staff of the branch see this page." in participant.page(f"/surveys/{made['id']}", 403)
    assert participant.post(f"/surveys/{made['id']}/close").status_code == 403
    assert "/feedback/surveys/new" not in participant.page("/")
    assert visit("staff_b").page(f"/surveys/{made['id']}", 403)
    assert visit("p1").page("/dashboard", 403)


# --- the walk-in link ------------------------------------------------------------------------------------

def token_of(org, survey_id: str) -> str:
    return org.api.ok("GET", f"/surveys/{survey_id}", org.tokens["staff_a"])["public_token"]


@pytest.mark.parametrize("lang, dir_, question", [("he", "rtl", "כמה היית מרוצה?"),
                                                  ("en", "ltr", "How satisfied were you?")])
def test_the_public_page_shows_the_questions_to_anyone_and_answering_needs_a_sign_in(org, visit, lang, dir_,
                                                                                    question):
    made = org.survey()
    token = token_of(org, made["id"])
    anyone = visit(None, lang)
    page = anyone.page(f"/s/{token}")
    assert direction(page) == (lang, dir_) and question in text_of(page)
    assert len(re.findall(r'type="radio" id="q1-\d"', page)) == 5
    assert len(re.findall(r'type="radio" id="q2-\d+"', page)) == 11
    assert '<textarea id="q3-text" name="q3"' in page
    response = anyone.post(f"/s/{token}", {"q1": "4", "q2": "9"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/directory/signin?next=%2Ffeedback%2Fs%2F{token}"
    assert org.api.ok("GET", f"/surveys/{made['id']}/results", org.tokens["staff_a"])["responses"] == 0
    assert visit(None).page("/s/no-such-token", 404)


def test_a_signed_in_participant_answers_once_and_a_second_answer_is_refused(org, visit):
    made = org.survey()
    token = token_of(org, made["id"])
    participant = visit("p1", "he")
    response = participant.post(f"/s/{token}", {"q1": "5", "q2": "10", "q3": "תודה רבה"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/feedback/s/{token}/thanks")
    assert "תודה" in participant.page(f"/s/{token}/thanks")
    answered = org.api.ok("GET", f"/surveys/{made['id']}/responses", org.tokens["staff_a"])["items"]
    assert [(a["question_id"], a["value"]) for a in answered[0]["answers"]] == [("q1", 5), ("q2", 10),
                                                                                ("q3", "תודה רבה")]
    again = participant.post(f"/s/{token}", {"q1": "1", "q2": "0"})
    assert again.status_code == 409 and "כבר" in text_of(again.get_data(as_text=True))
    assert visit("p1").post(f"/s/{token}", {"q1": "1", "q2": "0"}).status_code == 409
    assert len(org.api.ok("GET", f"/surveys/{made['id']}/responses", org.tokens["staff_a"])["items"]) == 1


def test_a_missing_answer_is_refused_on_the_page_and_what_was_chosen_stays(org, visit):
    made = org.survey()
    token = token_of(org, made["id"])
    response = visit("p2", "he").post(f"/s/{token}", {"q1": "3"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "ענו על כל שאלה שחובה לענות עליה." in text_of(page)
    assert re.search(r'id="q1-3"[^>]*checked', page)
    assert org.api.ok("GET", f"/surveys/{made['id']}/results", org.tokens["staff_a"])["responses"] == 0


# --- results and the dashboard, under the privacy threshold ---------------------------------------------------

def test_the_survey_page_hides_results_under_5_respondents_and_shows_them_from_5(org, visit):
    made = org.survey()
    for who, rating in zip(("p1", "p2", "p3", "p4"), (5, 4, 4, 3)):
        org.answer(who, made["id"], {"q1": rating, "q2": 9, "q3": f"Note from {who}"})
    staff = visit("staff_a")
    page = staff.page(f"/surveys/{made['id']}")
    assert 'id="suppressed"' in page and "Note from" not in page and "Average" not in text_of(page)
    org.answer("p5", made["id"], {"q1": 5, "q2": 6})
    text = text_of(staff.page(f"/surveys/{made['id']}"))
    assert "5 responses" in text and "Average: 4.2 / 5" in text and "Note from p3" in text
    assert "Net promoter score: 60.0" in text  # 4 promoters, 1 detractor of 5


def test_an_anonymous_surveys_written_answers_show_from_5_respondents_without_who_or_when(org, visit):
    made = org.survey(anonymous=True)
    notes = {"p1": "Zebra crossing outside", "p2": "a quieter room", "p3": "More evening hours", "p4": "Coffee"}
    for who, note in notes.items():
        org.answer(who, made["id"], {"q1": 4, "q2": 9, "q3": note})
    staff = visit("staff_a")
    assert not any(note in staff.page(f"/surveys/{made['id']}") for note in notes.values())  # four people
    org.answer("p5", made["id"], {"q1": 5, "q2": 6})  # no written answer
    page = staff.page(f"/surveys/{made['id']}")
    listed = re.findall(r"<li>([^<]+)</li>", re.search(r'<ul class="answers-list">.*?</ul>', page, re.S).group(0))
    assert listed == ["a quieter room", "Coffee", "More evening hours", "Zebra crossing outside"]  # not as sent
    assert "without who wrote them or when" in text_of(page)
    assert not any(org.ids[who] in page for who in notes)
    assert visit("staff_b").get(f"/surveys/{made['id']}").status_code == 403


@pytest.mark.parametrize("lang, fewer", [("he", "פחות מ־5 תגובות"), ("en", "Fewer than 5 responses")])
def test_the_dashboard_hides_cells_under_5_people_and_shows_figures_from_5(org, visit, lang, fewer):
    made = org.survey()
    for who in ("p1", "p2", "p3", "p4"):
        org.answer(who, made["id"], {"q1": 4, "q2": 9})
    staff = visit("staff_a", lang)
    page = staff.page(f"/dashboard?branch_id={org.a}")
    age = re.search(r'<table id="by-age">.*?</table>', page, re.S).group(0)
    assert fewer in text_of(age) and "4.0" not in text_of(age) and "4,0" not in text_of(age)
    assert fewer in text_of(re.search(r'<dl class="bars" id="overall">.*?</dl>', page, re.S).group(0))

    org.answer("p5", made["id"], {"q1": 5, "q2": 10})
    page = staff.page(f"/dashboard?branch_id={org.a}")
    age = text_of(re.search(r'<table id="by-age">.*?</table>', page, re.S).group(0))
    assert "18–29 4.2 / 5 5" in age and fewer not in age
    population = text_of(re.search(r'<table id="by-population">.*?</table>', page, re.S).group(0))
    assert "families 4.2 / 5 5" in population
    assert "4.2" in text_of(re.search(r'<dl class="bars" id="overall">.*?</dl>', page, re.S).group(0))
    assert re.search(r'<dl class="bars" id="funnel">', page) and 'id="lead-times"' in page


def test_the_dashboard_filters_by_period_channel_and_age_and_refuses_what_is_not_a_choice(org, visit):
    made = org.survey()
    for who in ("p1", "p2", "p3", "p4", "p5"):  # five of 18-29 on the web
        org.answer(who, made["id"], {"q1": 4, "q2": 9})
    org.answer("p6", made["id"], {"q1": 1, "q2": 0})  # one of 65+
    staff = visit("staff_a")

    def overall(query: str) -> str:
        page = staff.page(f"/dashboard?branch_id={org.a}&{query}")
        return text_of(re.search(r'<dl class="bars" id="overall">.*?</dl>', page, re.S).group(0))

    assert "3.5" in overall("months=12")  # all six: (5 x 4 + 1) / 6
    assert "4.0" in overall("months=3&age_group=18_29") and "3.5" not in overall("months=3&age_group=18_29")
    assert "Fewer than 5 responses" in overall("age_group=65_plus")  # one person: hidden
    assert "Fewer than 5 responses" not in overall("channel=phone")  # nobody by phone: empty, not hidden
    page = staff.page(f"/dashboard?branch_id={org.a}&months=6&channel=web&age_group=18_29")
    assert re.search(r'<option value="6" selected>', page) and re.search(r'<option value="web" selected>', page)
    assert "over the last 6 months" in text_of(page)
    for bad in ("months=5", "channel=fax", "age_group=old", "months=%24gt"):
        assert staff.get(f"/dashboard?branch_id={org.a}&{bad}").status_code == 422, bad


def test_the_branches_compared_come_a_page_at_a_time_in_the_order_asked(org, visit, monkeypatch):
    from services.feedback import services, ui

    monkeypatch.setattr(ui, "ORG_PAGE_ROWS", 1)
    services.pack_comparison(services.Feedback.of(org.db))
    admin = visit("admin")
    first = admin.page(f"/org?region_id={org.region}&months=6&sort=name")
    assert f"branch_id={org.a}" in first and f"branch_id={org.b}" not in first  # A, then B
    assert "Page 1 of 2 (2 branches)" in text_of(first) and 'rel="prev"' not in first
    following = re.search(r'<a rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert f"region_id={org.region}" in following and "months=6" in following and "page=2" in following
    second = admin.page(following.removeprefix("/feedback"))
    assert f"branch_id={org.b}" in second and f"branch_id={org.a}" not in second
    assert 'rel="prev"' in second and 'rel="next"' not in second
    for bad in ("page=0", "page=x", "page=%24gt"):
        assert admin.get(f"/org?{bad}").status_code == 422, bad


def test_the_branches_compared_page_shows_the_region_by_group_with_the_segment_filters(org, visit):
    made = org.survey()
    for who, csat in zip(("p1", "p2", "p3", "p4", "p5"), (5, 4, 4, 3, 5)):  # five of 18-29 on the web
        org.answer(who, made["id"], {"q1": csat, "q2": 9})
    admin = visit("admin")

    def groups(query: str) -> str:
        page = admin.page(f"/org?region_id={org.region}&{query}")
        return text_of(re.search(r'<section id="groups".*?</section>', page, re.S).group(0))

    shown = groups("months=3")
    assert f"Region {org.region} by group" in shown and "4.2" in shown  # overall and the 18-29 row
    assert "4.2" not in groups("months=3&channel=phone") and "4.2" in groups("months=3&age_group=18_29")
    for bad in ("channel=fax", "age_group=old"):
        assert admin.get(f"/org?{bad}").status_code == 422, bad


def test_population_groups_are_named_in_the_page_language_from_the_directorys_list(org, visit, feedback_app):
    from services.feedback.tests.conftest import tell

    made = org.survey()
    for who in ("p1", "p2", "p3", "p4", "p5"):  # five of the "families" group
        org.answer(who, made["id"], {"q1": 4, "q2": 9})
    tell(org.db, "cocreate.population_groups.changed.v1", "population_groups", {"items": [
        {"code": "families", "name": {"he": "משפחות", "en": "Families"}}]})
    feedback_app[0].extensions["feedback_population_names"].until = 0.0  # as a minute later: the app reads it again

    def by_population(lang: str) -> str:
        page = visit("staff_a", lang).page(f"/dashboard?branch_id={org.a}")
        return text_of(re.search(r'<table id="by-population">.*?</table>', page, re.S).group(0))

    assert "Families" in by_population("en") and "families" not in by_population("en")
    assert "משפחות" in by_population("he")


def test_the_dashboard_lists_what_people_raise_from_five_people_for_the_age_chosen(org, visit):
    made = org.survey()
    for who in ("p1", "p2", "p3", "p4", "p5"):  # five of 18-29 write about the parking
        org.answer(who, made["id"], {"q1": 3, "q2": 7, "q3": "The parking is too small"})
    for who in ("p6", "p7"):  # two of 65+ about the stairs: too few
        org.answer(who, made["id"], {"q1": 2, "q2": 5, "q3": "Steep stairs"})
    staff = visit("staff_a")

    def raised(query: str = "") -> str:
        page = staff.page(f"/dashboard?branch_id={org.a}&{query}")
        return text_of(re.search(r'<h2 id="raised">.*?(?:</ol>|</p>\s*(?=<h2))', page, re.S).group(0))

    shown = raised()
    assert "parking" in shown and "raised in 5 responses" in shown and "stairs" not in shown.lower()
    assert "parking" in raised("age_group=18_29") and "parking" not in raised("age_group=65_plus")


def test_staff_see_their_branchs_surveys_and_participants_the_ones_they_can_answer(org, visit):
    opened = org.survey(title={"he": "סקר פתוח", "en": "An open survey"})
    org.survey(open=False, title={"he": "טיוטה", "en": "A draft survey"})
    staff = text_of(visit("staff_a").page("/"))
    assert "An open survey" in staff and "A draft survey" in staff and "New survey" in staff
    participant = visit("p1").page("/")
    assert "An open survey" in text_of(participant) and "A draft survey" not in text_of(participant)
    assert f'href="/feedback/s/{token_of(org, opened["id"])}"' in participant
    assert "Tell us how your visit went" in visit(None).page("/") and "/directory/signin?next=" in visit(None).page("/")


def test_quick_feedback_from_the_home_page_and_a_missing_rating_is_refused(org, visit):
    participant = visit("p6", "he")
    response = participant.post("/quick", {"rating": "4", "comment": "צוות נפלא"})
    assert response.status_code == 303
    assert "המשוב שלכם הגיע לצוות הסניף" in text_of(participant.client.get(response.headers["Location"])
                                                   .get_data(as_text=True))
    quick = org.api.ok("GET", "/feedback", org.tokens["staff_a"], query_string={"branch_id": org.a})["items"]
    assert [(a["question_id"], a["value"]) for a in quick[0]["answers"]] == [("rating", 4), ("comment", "צוות נפלא")]
    refused = participant.post("/quick", {"comment": "no rating"})
    assert refused.status_code == 422 and "בחרו דירוג מ־1 עד 5." in text_of(refused.get_data(as_text=True))
    assert len(org.api.ok("GET", "/feedback", org.tokens["staff_a"], query_string={"branch_id": org.a})["items"]) == 1


def test_a_form_post_without_the_csrf_token_is_refused_before_anything_changes(org, visit):
    response = visit("staff_a").post("/surveys/new", builder_form(org), csrf=False)
    assert response.status_code == 403 and response.mimetype == "application/problem+json"
    assert not surveys_of(org, org.a)


# --- in real Chromium ------------------------------------------------------------------------------------

PHONE = {"width": 360, "height": 740}
SAY = {"he": {"title": "ערב הורים", "question": "כמה נהניתם?", "thanks": "תודה", "open": "פתיחת הסקר",
              "save": "שמירת הטיוטה", "send": "שליחת התשובות", "age": "18–29"},
       "en": {"title": "Parents' evening", "question": "How much did you enjoy it?", "thanks": "Thank you",
              "open": "Open the survey", "save": "Save the draft", "send": "Send my answers", "age": "18–29"}}


@pytest.fixture(scope="module")
def live_server(feedback_app):
    """The feedback app on a port of its own, in this process: the pages and the API, on the tests' store."""
    from werkzeug.serving import make_server

    app, _ = feedback_app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def signed_in_page(browser, live_server: str, token: str, **options):
    """A browser context with the person's session cookie on the live server (a desktop's screen unless
    `options` say otherwise), and a page of it."""
    context = browser.new_context(base_url=live_server, **{"viewport": {"width": 1280, "height": 800}, **options})
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": "cocreate_session", "value": token, "url": live_server}])
    return context, context.new_page()


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.browser
@pytest.mark.parametrize("lang, viewport", [("he", PHONE), ("en", {"width": 1280, "height": 800})],
                         ids=["he-phone", "en-desktop"])
def test_in_chromium_staff_build_and_open_a_survey_a_participant_answers_it_and_staff_see_it_on_the_dashboard(
        org, live_server, browser, lang, viewport):
    from playwright.sync_api import expect

    say = SAY[lang]

    def person(who: str):
        return signed_in_page(browser, live_server, org.tokens[who], viewport=viewport,
                              locale="he-IL" if lang == "he" else "en-US")

    staff_context, staff = person("staff_a")
    participant_context, participant = person("p1")
    try:
        staff.goto(f"/feedback/surveys/new?lang={lang}")
        assert staff.locator("html").get_attribute("dir") == ("rtl" if lang == "he" else "ltr")
        staff.fill("#title-he", f"{SAY['he']['title']}")
        staff.fill("#title-en", f"{SAY['en']['title']}")
        staff.fill("#closes_at", in_days(14))
        staff.select_option("#q1-type", "csat")
        staff.fill("#q1-he", SAY["he"]["question"])
        staff.fill("#q1-en", SAY["en"]["question"])
        assert fits_the_screen(staff)
        staff.get_by_role("button", name=say["save"]).focus()
        staff.keyboard.press("Enter")  # the keyboard alone sends the form
        staff.wait_for_url(re.compile(r"/feedback/surveys/sv_"))
        staff.get_by_role("button", name=say["open"]).click()
        expect(staff.locator("#notice")).to_be_visible()
        expect(staff.locator("#qr svg")).to_be_visible()
        link = staff.locator("#public-link").get_attribute("href")
        assert link.startswith("/feedback/s/")
        survey_id = re.search(r"/surveys/(sv_[0-9a-f]+)", staff.url).group(1)
        for who, rating in (("p2", 5), ("p3", 4), ("p4", 4), ("p5", 5)):  # the others answer through the API
            org.answer(who, survey_id, {"q1": rating})

        participant.goto(f"{link}?lang={lang}")
        assert participant.locator("html").get_attribute("dir") == ("rtl" if lang == "he" else "ltr")
        expect(participant.get_by_text(say["question"])).to_be_visible()
        participant.locator('label[for="q1-3"]').click()
        participant.get_by_role("button", name=say["send"]).click()
        participant.wait_for_url(re.compile(r"/thanks$"))
        expect(participant.locator("h1")).to_have_text(say["thanks"])
        assert fits_the_screen(participant)

        staff.goto(f"/feedback/dashboard?branch_id={org.a}")
        row = staff.locator("#by-age tbody tr").filter(has_text=say["age"])
        expect(row).to_contain_text("4.2")  # (5 + 4 + 4 + 5 + 3) / 5
        expect(row.locator("td").nth(1)).to_have_text("5")
        assert staff.locator("html").get_attribute("dir") == ("rtl" if lang == "he" else "ltr")
        assert fits_the_screen(staff)
        staff.goto(f"/feedback/surveys/{survey_id}")
        expect(staff.locator("#results ~ section")).to_contain_text("4.2")  # the survey's own results
        expect(staff.locator("#suppressed")).to_have_count(0)
    finally:
        close_contexts([staff_context, participant_context])


COMPARED = {"en": {"dir": "ltr", "fewer": "Fewer than 5 responses", "link": "Branches compared",
                   "refused": "Only organization admins compare branches."},
            "he": {"dir": "rtl", "fewer": "פחות מ־5 תגובות", "link": "השוואת סניפים",
                   "refused": "רק מנהלי הארגון משווים בין סניפים."}}


@pytest.mark.browser
def test_in_chromium_an_org_admin_compares_the_branches_in_both_languages_on_a_phone_and_a_desktop(
        org, visit, live_server, browser):
    from playwright.sync_api import expect

    from services.feedback import services

    at_a = org.survey()
    for who, csat, nps in zip(("p1", "p2", "p3", "p4", "p5"), (5, 4, 4, 3, 5), (10, 9, 7, 5, 9)):
        org.answer(who, at_a["id"], {"q1": csat, "q2": nps})
    at_b = org.survey("staff_b", branch_id=org.b)
    for who in ("p6", "p7"):  # two people: B's cells stay hidden
        org.answer(who, at_b["id"], {"q1": 1, "q2": 0})
    services.pack_comparison(services.Feedback.of(org.db))  # the worker's housekeeping
    assert visit(None).get("/org").headers["Location"] == "/directory/signin?next=%2Ffeedback%2Forg"
    for bad in ("months=5", "sort=%24gt", f"region_id={'r' * 65}"):
        assert visit("admin").get(f"/org?{bad}").status_code == 422, bad
    assert visit("admin").get("/org?region_id=rg_nowhere").status_code == 404

    admin_context, admin = signed_in_page(browser, live_server, org.tokens["admin"])
    staff_context, staff = signed_in_page(browser, live_server, org.tokens["staff_a"])
    try:
        for lang, width in (("en", 390), ("en", 1280), ("he", 390), ("he", 1280)):
            say = COMPARED[lang]
            admin.set_viewport_size({"width": width, "height": 800})
            admin.goto(f"/feedback/org?lang={lang}&region_id={org.region}&months=3")
            assert admin.locator("html").get_attribute("dir") == say["dir"]
            expect(admin.locator(".subnav a[aria-current=page]")).to_have_text(say["link"])
            expect(admin.locator("#branches tbody tr")).to_have_count(2)
            expect(admin.locator(f'#region_id option[value="{org.region}"]')).to_have_attribute("selected", "")
            a = admin.locator(f'#branches tbody tr:has(a[href$="branch_id={org.a}"]) td')
            b = admin.locator(f'#branches tbody tr:has(a[href$="branch_id={org.b}"]) td')
            expect(a.nth(0)).to_contain_text("4.2")  # (5 + 4 + 4 + 3 + 5) / 5
            expect(a.nth(1)).to_have_text("5")
            expect(a.nth(2)).to_have_text("40.0")  # 3 promoters, 1 detractor of 5
            for cell in (0, 2):
                expect(b.nth(cell)).to_have_text(say["fewer"])
            expect(admin.locator("#as-of")).not_to_be_empty()
            assert admin.evaluate("document.scrollingElement.scrollWidth <= innerWidth"), (lang, width)

        admin.focus("#sort")  # the keyboard alone: the next order, then the button
        admin.keyboard.press("ArrowDown")
        admin.keyboard.press("Tab")
        admin.keyboard.press("Enter")
        admin.wait_for_url(re.compile(r"sort=responses"))
        assert f"region_id={org.region}" in admin.url and "months=3" in admin.url
        expect(admin.locator("#sort")).to_have_value("responses")
        expect(admin.locator("#branches tbody tr").first.locator("th a")).to_have_attribute(
            "href", f"/feedback/dashboard?branch_id={org.a}")  # the most responses first

        refused = staff.goto("/feedback/org?lang=en")
        assert refused.status == 403
        expect(staff.locator("[role=alert]")).to_have_text(COMPARED["en"]["refused"])
        expect(staff.get_by_role("link", name=COMPARED["en"]["link"])).to_have_count(0)
    finally:
        close_contexts([admin_context, staff_context])
