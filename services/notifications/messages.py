"""What notifications say, in Hebrew and English: one plain catalog (no gettext needed for a few dozen lines).
A notification stores its message key and parameters; the text is rendered in the recipient's language when
it is read (or sent), so a person who switches language reads their whole inbox in the new one."""
from __future__ import annotations

from typing import Any, Mapping

LANGUAGES = ("he", "en")
DEFAULT_LANGUAGE = "he"

STATUS_NAMES = {
    "submitted": {"he": "הוגש", "en": "submitted"},
    "under_review": {"he": "בבדיקה", "en": "under review"},
    "planned": {"he": "מתוכנן", "en": "planned"},
    "in_progress": {"he": "בביצוע", "en": "in progress"},
    "implemented": {"he": "בוצע", "en": "implemented"},
    "declined": {"he": "לא יתקדם", "en": "declined"},
    "merged": {"he": "אוחד עם רעיון אחר", "en": "merged with another idea"},
}
ORG_WIDE = {"he": "כלל הארגון", "en": "the whole organization"}

# key -> language -> (title, body). Bodies take the parameters by name; a `note` (the staff's words to the
# client) is shown under the body when there is one.
CATALOG: dict[str, dict[str, tuple[str, str]]] = {
    "idea.status_changed.author": {
        "he": ("עדכון ברעיון שלכם", 'הרעיון "{title}" עבר לסטטוס: {status}.'),
        "en": ("News about your idea", "Your idea “{title}” is now {status}."),
    },
    "idea.status_changed.follower": {
        "he": ("עדכון ברעיון שאתם עוקבים אחריו", 'הרעיון "{title}" עבר לסטטוס: {status}.'),
        "en": ("News about an idea you follow", "“{title}” is now {status}."),
    },
    "idea.in_progress.volunteer": {
        "he": ("הרעיון שהתנדבתם לעזור בו יוצא לדרך", 'הרעיון "{title}" בביצוע עכשיו, ונשמח לעזרתכם.'),
        "en": ("The idea you volunteered for is starting", "“{title}” is now in progress, and your help is welcome."),
    },
    "comment.official.author": {
        "he": ("תגובה רשמית לרעיון שלכם", 'הצוות הגיב רשמית לרעיון "{title}".'),
        "en": ("An official response to your idea", "Staff responded officially to “{title}”."),
    },
    "comment.posted.author": {
        "he": ("תגובה חדשה לרעיון שלכם", 'נוספה תגובה לרעיון "{title}".'),
        "en": ("A new comment on your idea", "Someone commented on “{title}”."),
    },
    "comment.mention": {
        "he": ("הזכירו אתכם בתגובה", 'הזכירו אתכם בתגובה לרעיון "{title}".'),
        "en": ("You were mentioned", "You were mentioned in a comment on “{title}”."),
    },
    "idea.merged.author": {
        "he": ("הרעיון שלכם אוחד", 'הרעיון "{title}" אוחד עם הרעיון "{into_title}"; התומכים והתגובות עברו אליו.'),
        "en": ("Your idea was merged",
               "“{title}” was merged into “{into_title}”; its supporters and comments moved there."),
    },
    "idea.adopted.author": {
        "he": ("הרעיון שלכם אומץ", 'הרעיון שלכם "{title}" אומץ גם ב{branch}.'),
        "en": ("Your idea was adopted", "Your idea “{title}” was adopted by {branch} too."),
    },
    "idea.submitted.staff": {
        "he": ("רעיון חדש", 'רעיון חדש ב{branch}: "{title}".'),
        "en": ("A new idea", "A new idea for {branch}: “{title}”."),
    },
    "idea.flagged.staff": {
        "he": ("תוכן סומן לבדיקה", 'משתתף סימן לבדיקה תוכן ברעיון "{title}" ({branch}). הוא ממתין בתור הפיקוח.'),
        "en": ("Content was flagged", "A participant flagged content on “{title}” ({branch}). It waits in the "
                                      "moderation queue."),
    },
    "survey.outcome.author": {
        "he": ("איך עבד הרעיון שלכם?", 'הרעיון שלכם "{title}" בוצע. ספרו לנו אם הוא עזר: השאלון פתוח עכשיו.'),
        "en": ("How did your idea work out?", "Your idea “{title}” was carried out. Tell us whether it helped: "
                                              "the survey is open now."),
    },
    "survey.outcome.supporter": {
        "he": ("איך עבד הרעיון שתמכתם בו?", 'הרעיון "{title}" בוצע. ספרו לנו אם הוא עזר: השאלון פתוח עכשיו.'),
        "en": ("How did the idea you supported work out?", "“{title}” was carried out. Tell us whether it helped: "
                                                          "the survey is open now."),
    },
    "feedback.low_score.staff": {
        "he": ("ציון נמוך במשוב", "לקוח ב{branch} נתן ציון {score} מתוך {out_of}."),
        "en": ("A low feedback score", "A client at {branch} gave a score of {score} out of {out_of}."),
    },
    "feedback.replied.respondent": {
        "he": ("הצוות ענה למשוב שלכם", "הצוות קרא את מה שכתבתם וענה:"),
        "en": ("Staff answered your feedback", "Staff read what you wrote and answered:"),
    },
    "account.roles_changed": {
        "he": ("התפקידים שלכם עודכנו", "התפקידים שלכם ב-Cocreate השתנו; הם חלים מהכניסה הבאה."),
        "en": ("Your roles changed", "Your roles in Cocreate changed; they apply from your next sign-in."),
    },
}


def language(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def _value(value: Any, lang: str) -> str:
    """A parameter may be the same in every language (a title) or given per language (a branch's names)."""
    if isinstance(value, Mapping):
        return str(value.get(lang) or value.get(DEFAULT_LANGUAGE) or next(iter(value.values()), ""))
    return "" if value is None else str(value)


def render(key: str, params: Mapping[str, Any], lang: str | None) -> tuple[str, str]:
    """(title, body) of a message in `lang` (Hebrew when the language is unknown)."""
    lang = language(lang)
    title, body = CATALOG[key][lang]
    values = {name: _value(value, lang) for name, value in params.items() if name != "note"}
    if "status" in params:
        values["status"] = STATUS_NAMES.get(params["status"], {}).get(lang, str(params["status"]))
    if "branch" in params and params["branch"] is None:
        values["branch"] = ORG_WIDE[lang]
    text = body.format_map(_Blank(values))
    note = params.get("note")
    return title, f"{text}\n{note}" if note else text


class _Blank(dict):
    """A missing parameter renders empty rather than failing the whole inbox page."""

    def __missing__(self, key):
        return ""


# The words around notifications in e-mails (templates/email/): language -> text. Parameters by name.
EMAIL_TEXTS: dict[str, dict[str, str]] = {
    "greeting": {"he": "שלום {name},", "en": "Hello {name},"},
    "open_idea": {"he": "לרעיון ב-Cocreate", "en": "See the idea in Cocreate"},
    "open_inbox": {"he": "לכל ההתראות שלכם", "en": "All your notifications"},
    "digest_subject": {"he": "הסיכום היומי שלכם ב-Cocreate: {count} עדכונים",
                       "en": "Your daily Cocreate summary: {count} updates"},
    "digest_subject_one": {"he": "הסיכום היומי שלכם ב-Cocreate: עדכון אחד",
                           "en": "Your daily Cocreate summary: 1 update"},
    "digest_intro": {"he": "הסיכום שלכם ל-{day}: מה חדש מאז הסיכום הקודם.",
                     "en": "Your summary for {day}: what is new since the previous one."},
    "why": {"he": "קיבלתם את המייל הזה כי בחרתם לקבל עדכונים בדוא״ל. אפשר לשנות זאת בהעדפות ההתראות ב-Cocreate.",
            "en": "You get this e-mail because you chose to be told by e-mail. You can change that in your "
                  "notification preferences in Cocreate."},
}


def email_text(key: str, lang: str | None, **params: Any) -> str:
    return EMAIL_TEXTS[key][language(lang)].format_map(_Blank(params))


def direction(lang: str | None) -> str:
    """Hebrew reads right to left."""
    return "rtl" if language(lang) == "he" else "ltr"
