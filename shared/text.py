"""Words of free text in Hebrew and English, the same way in every service: Unicode NFC, niqqud and cantillation
removed, lower case, Hebrew final letters as their regular forms (so "ילדים" and a mistyped "ילדימ" are one
word), one-letter Hebrew prefixes (ו ה ב ל מ ש כ) taken off where a word is long enough to carry one.

Pure functions, no I/O. The ideas catalog indexes `terms_of` (a word and its unprefixed form, for search); the
feedback themes count `keywords` (one form per word, stop words dropped) and `phrases` (two keywords in a row).
"""
from __future__ import annotations

import re
import unicodedata

NIQQUD = re.compile(r"[\u0591-\u05C7]")
WORD = re.compile(r"\w+", re.UNICODE)
CLAUSE = re.compile(r"[.,;:!?()\[\]{}\"/\\\n\r\t·•–—]+")  # punctuation ends a run of keywords
FINALS = str.maketrans("ךםןףץ", "כמנפצ")
TO_FINAL = {"כ": "ך", "מ": "ם", "נ": "ן", "פ": "ף", "צ": "ץ"}
HEBREW_PREFIXES = set("והבלמשכ")
# The search's stop words (the ideas catalog skips them in queries and similarity); kept as they were.
STOP = {"the", "a", "an", "and", "or", "of", "to", "in", "for", "on", "at", "is", "be", "with", "we", "it",
        "that", "this", "של", "את", "על", "עם", "גם", "לא", "זה", "זו", "או", "כי", "יש", "אין", "הוא", "היא"}


def normalize(text: str) -> str:
    """NFC, no niqqud, lower case, Hebrew final letters as regular ones."""
    return NIQQUD.sub("", unicodedata.normalize("NFC", text)).lower().translate(FINALS)


def words(text: str) -> list[str]:
    """Normalized words: lower case, no niqqud, Hebrew final letters as their regular forms (one-letter Latin
    words dropped)."""
    return [w for w in WORD.findall(normalize(text)) if len(w) > 1 or not w.isascii()]


def terms_of(text: str) -> set[str]:
    """The index terms of a text: each word, and a Hebrew word without its one-letter prefix (ו, ה, ב, ל, מ,
    ש, כ), so "בגינה" is found by "גינה"."""
    terms = set()
    for w in words(text):
        terms.add(w)
        if len(w) >= 4 and w[0] in HEBREW_PREFIXES:
            terms.add(w[1:])
    return terms


# Words of no theme of their own (normalized: Hebrew final letters as regular ones).
_STOP_WORDS = """
the a an and or of to in for on at is are was were be been being with we it its that this these those there
here they them their you your i me my our us he she his her not no yes but if so very too also just more most
much many some any all can could would should will do does did done have has had from by as about into than
then when what which who how why there's it's i'm don't isn't ok okay thanks thank please really like get got
always never need needs want wants lot lots one two
של את על עם גם לא זה זו זאת או כי יש אין הוא היא הם הן אני אנחנו אתה את אתם אתן לי לך לו לה לנו להם להן שלי
שלך שלו שלה שלנו שלהם מאוד מאד כל כמו אבל אם רק עוד כבר היה היתה הייתה היו יהיה להיות אז כן גם מה מי איך
למה מתי איפה כאן פה שם אותו אותה אותם עד בין אחרי לפני תודה רבה בבקשה קצת הרבה יותר פחות ממש סתם טוב
אחד אחת שני שתי דבר דברים משהו בו בה בהם בי לכם אצל כך ככה הזה הזאת האלה אלה אלו היום עכשיו תמיד אף
צריך צריכה צריכים צריכות רוצה רוצים אפשר חייב חייבים אולי ליד בלי לגבי בגלל כדי אצלנו
"""
STOP_WORDS = frozenset(w.translate(FINALS) for w in _STOP_WORDS.split()) | frozenset(STOP)
# Hebrew words that begin with a prefix letter which is part of the word (not taken off).
_WHOLE = """
שירות שירותים שעה שעות שעון שולחן שולחנות שביל שבילים שכונה שלום שמירה שמש שקט שאלה שאלות שיעור שיעורים
שבוע שבועות שנה שנים שם שמות שיחה שיח שפה שפות שמחה שתייה שבור שבורה שבורים שבורות
הורים הורה הסעה הסעות הרצאה הרצאות הפסקה הפסקות הנהלה הדרכה הגעה הכנה
מורה מורים מורות מקום מקומות משחק משחקים מחשב מחשבים מזגן מזגנים מחיר מחירים מים מדריך מדריכים מדריכה
מועדון מקלט מטבח מגרש מגרשים מעלית מוזיקה מוסיקה מבנה משפחה משפחות מרכז מחלקה מנהל מנהלת מתנדבים מתנדב
מועד מועדים מידע מכונה מצב מספר מספיק מסך מסכים מדרגות מקרר מזון מלווה משמרת מלא מלאה מלאים מלאות
מלוכלך מלוכלכת מסוכן מסוכנת מעולה מצוין מצוינת מרוצה מרוצים מאוחר מוקדם מהר מעט מבוגרים מתקנים
כיתה כיתות כיסא כיסאות כסף כניסה כדור כדורגל כושר כלים כביש
בית בתים ביטחון בטיחות בריכה בנייה בחירה בעיה בעיות בוקר בקשה ביקור
לימוד לימודים למידה לחץ לילה לוח לקוח לקוחות
ועדה ויכוח וילון
"""
WHOLE_WORDS = frozenset(w.translate(FINALS) for w in _WHOLE.split())
MIN_LATIN = 3  # Latin words of fewer letters are no theme ("ok", "tv" aside)


def _hebrew(word: str) -> bool:
    return any("\u05d0" <= ch <= "\u05ea" for ch in word)


def unprefixed(word: str) -> str:
    """A normalized Hebrew word without its one-letter prefix (ו ה ב ל מ ש כ), from 4 letters on, unless the
    letter is part of a known word ("שירות" stays, "בשירות" is "שירות")."""
    if len(word) >= 4 and word[0] in HEBREW_PREFIXES and word not in WHOLE_WORDS and _hebrew(word):
        return word[1:]
    return word


def _keyword(word: str) -> str | None:
    if word in STOP_WORDS or word.isdigit():
        return None
    stem = unprefixed(word)
    if stem in STOP_WORDS or len(stem) < 2 or (stem.isascii() and len(stem) < MIN_LATIN):
        return None
    return stem


def keyword_runs(text: str) -> list[list[str]]:
    """The keywords of a text in order, in runs of consecutive keywords (a stop word or punctuation ends a
    run)."""
    runs: list[list[str]] = []
    for clause in CLAUSE.split(text):
        runs.append([])
        for w in words(clause):
            found = _keyword(w)
            if found is None:
                runs.append([])
            else:
                runs[-1].append(found)
    return [run for run in runs if run]


def keywords(text: str) -> list[str]:
    """The distinct keywords of a text, in the order they first appear: normalized, unprefixed, no stop words,
    no numbers."""
    return list(dict.fromkeys(w for run in keyword_runs(text) for w in run))


def phrases(text: str) -> list[str]:
    """The distinct two-word phrases of a text: two different keywords next to each other ("חניה נגישה")."""
    return list(dict.fromkeys(f"{a} {b}" for run in keyword_runs(text) for a, b in zip(run, run[1:]) if a != b))


def display(term: str) -> str:
    """A normalized term as people write it: a Hebrew word ends in its final letter form."""
    return " ".join(w[:-1] + TO_FINAL[w[-1]] if len(w) > 1 and w[-1] in TO_FINAL and _hebrew(w) else w
                    for w in term.split(" "))
