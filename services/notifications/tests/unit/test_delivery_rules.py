"""The rules of sending, without I/O: how e-mail preferences route a notification, backoff and attempt budgets,
when the day's digest is due (in the configured time zone, across daylight saving), what a webhook URL may be,
webhook signatures (and the README's verification function for receivers), and e-mails rendered in Hebrew
(right to left) and English as text and HTML."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.notifications import domain, mail, signing
from services.notifications.domain import ACCOUNT, DAILY, FOLLOWED_IDEAS, INSTANT, MY_IDEAS
from shared.errors import DomainError

README = Path(__file__).resolve().parents[2] / "README.md"
JERUSALEM = ZoneInfo("Asia/Jerusalem")
LETTERHEAD = mail.Letterhead("Cocreate <no-reply@cocreate.example>", "https://cocreate.example")


def test_email_preferences_route_each_category_at_once_to_the_digest_or_nowhere():
    assert domain.email_mode(None, MY_IDEAS) == INSTANT and domain.email_mode(None, FOLLOWED_IDEAS) is None
    chosen = {MY_IDEAS: {"email": True, "email_frequency": DAILY}, FOLLOWED_IDEAS: {"email": True}}
    assert domain.email_mode(chosen, MY_IDEAS) == DAILY and domain.email_mode(chosen, FOLLOWED_IDEAS) == INSTANT
    assert domain.email_mode({MY_IDEAS: {"email": False, "email_frequency": DAILY}}, MY_IDEAS) is None
    # critical: at once, whatever is stored
    assert domain.email_mode({ACCOUNT: {"email": False, "email_frequency": DAILY}}, ACCOUNT) == INSTANT


def test_backoff_doubles_from_its_base_up_to_its_cap_and_a_replay_brings_a_fresh_budget():
    assert [domain.backoff(n, 30, 3600) for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert domain.attempts_allowed(8) == 8 and domain.attempts_allowed(8, replayed_after=8) == 16


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.mark.parametrize("now, day, at", [
    # Jerusalem is UTC+2 in winter and UTC+3 in summer; the digest goes at 18:00 local
    (utc(2026, 11, 30, 15, 59), "20261129", utc(2026, 11, 29, 16, 0)),
    (utc(2026, 11, 30, 16, 0), "20261130", utc(2026, 11, 30, 16, 0)),
    (utc(2026, 11, 30, 23, 0), "20261130", utc(2026, 11, 30, 16, 0)),
    (utc(2026, 7, 1, 15, 0), "20260701", utc(2026, 7, 1, 15, 0)),
    (utc(2026, 7, 1, 14, 59), "20260630", utc(2026, 6, 30, 15, 0)),
])
def test_the_days_digest_is_due_at_the_local_hour_in_winter_and_in_summer(now, day, at):
    assert domain.digest_window(now, 18, JERUSALEM) == (day, at)


def test_a_digest_is_one_per_person_and_day_and_holds_notifications_of_events_before_its_hour():
    assert domain.digest_id("20261130", "pe_1") == domain.digest_id("20261130", "pe_1") != domain.digest_id(
        "20261201", "pe_1")
    cutoff = domain.stamp(datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc))
    before = domain.notification_id("e1", datetime(2026, 11, 30, 15, 59, 59, tzinfo=timezone.utc), "pe_1", "email")
    after = domain.notification_id("e2", datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc), "pe_1", "email")
    assert before < cutoff < after


@pytest.mark.parametrize("url", ["ftp://example.org/x", "https://", "example.org/hook", "https://u:p@example.org/",
                                 "https://example.org/x#frag", "https://example.org/" + "x" * 2000])
def test_a_webhook_url_is_an_absolute_http_url_without_credentials(url):
    with pytest.raises(DomainError):
        domain.check_webhook_url(url)


def test_webhooks_subscribe_to_the_event_types_this_service_reads_and_report_them_under_a_category():
    types = domain.webhook_event_types()
    assert "cocreate.idea.status_changed.v1" in types and "cocreate.vote.cast.v1" in types
    assert not any(t.startswith("cocreate.notification.") for t in types)
    assert domain.webhook_category("cocreate.person.erased.v1") == ACCOUNT
    assert domain.webhook_category("cocreate.vote.cast.v1") == domain.BRANCH_ACTIVITY
    assert re.match(domain.WEBHOOK_ID_PATTERN, domain.new_webhook_id())
    assert domain.new_secret() != domain.new_secret()


def readme_verifier():
    """The verification function the README gives receivers, as they would paste it."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    [code] = [b for b in blocks if "def verify_cocreate_signature" in b]
    scope: dict = {}
    exec(code, scope)
    return scope["verify_cocreate_signature"]


@pytest.mark.parametrize("verify", [signing.verify, readme_verifier()], ids=["ours", "readme"])
def test_a_receiver_accepts_our_signature_and_detects_a_tampered_body_a_wrong_secret_or_an_old_request(verify):
    secret, body = "whsec_" + "ab" * 32, b'{"id":"e1","type":"cocreate.idea.status_changed.v1"}'
    now = int(datetime.now(timezone.utc).timestamp())
    header = signing.sign(secret, body, now)
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert verify(secret, body, header)
    assert not verify(secret, body.replace(b"e1", b"e2"), header)
    assert not verify("whsec_" + "cd" * 32, body, header)
    assert not verify(secret, body, signing.sign(secret, body, now - 3600))  # replayed an hour later
    assert not verify(secret, body, "v1=deadbeef") and not verify(secret, body, "garbage")


def wire(message):
    """The message as its receiver reads it: written out, then parsed."""
    return message_from_bytes(message.as_bytes(), policy=policy.default)


def doc(message="idea.status_changed.author", **params):
    return {"_id": "20261130T140500000000Z-4b6d8f0a2c4e6a8c0e2a", "message": message,
            "params": {"idea_id": "id_1", "title": "Shade <b>now</b>", "status": "planned", **params}}


def test_an_email_in_hebrew_reads_right_to_left_with_a_text_and_an_html_part():
    sent = wire(mail.notification_email(doc(note="בחודש הבא"), mail.Contact("noa@example.org", "נועה", "he"),
                                        LETTERHEAD, sent_at=datetime(2026, 11, 30, tzinfo=timezone.utc)))
    assert sent["Subject"] == "עדכון ברעיון שלכם" and sent["To"].addresses[0].display_name == "נועה"
    assert sent["Message-ID"] == "<20261130T140500000000Z-4b6d8f0a2c4e6a8c0e2a@cocreate.example>"
    assert sent.get_content_type() == "multipart/alternative"
    text, html = sent.get_body(("plain",)).get_content(), sent.get_body(("html",)).get_content()
    assert text.startswith("שלום נועה,") and 'הרעיון "Shade <b>now</b>" עבר לסטטוס: מתוכנן.' in text
    assert "בחודש הבא" in text and "https://cocreate.example/ideas/id_1" in text
    assert '<html lang="he" dir="rtl">' in html and "text-align:right" in html
    assert "Shade &lt;b&gt;now&lt;/b&gt;" in html and "<b>now</b>" not in html


def test_an_english_digest_lists_each_notification_with_its_link():
    items = [doc(), doc("comment.posted.author", comment_id="cm_1")]
    sent = wire(mail.digest_email("dg_20261130_0123456789abcdef0123", items, mail.Contact("sam@example.org", "Sam", "en"),
                                  LETTERHEAD, sent_at=datetime(2026, 11, 30, 16, tzinfo=timezone.utc)))
    assert sent["Subject"] == "Your daily Cocreate summary: 2 updates"
    text, html = sent.get_body(("plain",)).get_content(), sent.get_body(("html",)).get_content()
    assert "Your summary for November 30, 2026" in text
    assert text.index("News about your idea") < text.index("A new comment on your idea")
    assert '<html lang="en" dir="ltr">' in html and html.count('href="https://cocreate.example/ideas/id_1"') == 2


@pytest.mark.parametrize("addresses, found", [
    (["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"], None),
    (["93.184.216.34", "127.0.0.1"], "127.0.0.1"),
    (["10.0.0.7"], "10.0.0.7"),
    (["172.16.5.4"], "172.16.5.4"),
    (["192.168.1.1"], "192.168.1.1"),
    (["169.254.169.254"], "169.254.169.254"),
    (["::1"], "::1"),
    (["fe80::1%eth0"], "fe80::1"),
    (["::ffff:10.0.0.1"], "10.0.0.1"),
    (["0.0.0.0"], "0.0.0.0"),
    (["224.0.0.1"], "224.0.0.1"),
    (["example.org"], None),
])
def test_non_public_addresses_are_found(addresses, found):
    assert domain.non_public(addresses) == found


def test_a_webhook_url_naming_a_non_public_host_is_refused_unless_allowed():
    for url in ("http://localhost:9000/x", "https://api.localhost/x", "http://127.0.0.1/x", "http://[fd00::1]/x"):
        with pytest.raises(DomainError, match="public address"):
            domain.check_webhook_url(url)
        assert domain.check_webhook_url(url, allow_private=True) == url
    assert domain.check_webhook_url("https://crm.example.org/hooks") == "https://crm.example.org/hooks"
