"""Words of free text in Hebrew and English (shared/text.py): normalization, prefixes, stop words, keywords and
two-word phrases, and how a term is shown."""
from shared.text import STOP, display, keywords, normalize, phrases, terms_of, unprefixed, words


def test_hebrew_is_normalized_without_niqqud_with_regular_final_letters():
    assert normalize("בַּחֲנָיָה") == "בחניה"
    assert normalize("ילדים") == normalize("ילדימ") == "ילדימ"
    assert words("שָׁלוֹם, עולם!") == ["שלומ", "עולמ"]
    # NFC: a letter with a separate combining mark and the precomposed letter are one word
    assert words("Cafe\u0301") == words("Café")


def test_english_is_case_folded_and_one_letter_latin_words_dropped():
    assert words("The PARKING Lot, a b") == ["the", "parking", "lot"]


def test_search_terms_keep_the_word_and_its_unprefixed_form():
    assert terms_of("בגינה") == {"בגינה", "גינה"}
    assert terms_of("גן") == {"גנ"}  # short words keep their first letter


def test_one_letter_hebrew_prefixes_are_taken_off_from_four_letters():
    for prefix in "והבלמשכ":
        assert unprefixed(normalize(prefix + "חניה")) == "חניה"
    assert unprefixed("גינה") == "גינה"  # not a prefix letter
    assert unprefixed("בית") == "בית"  # too short to carry one
    assert unprefixed(normalize("שירות")) == "שירות"  # the letter belongs to the word
    assert unprefixed(normalize("בשירות")) == "שירות"
    assert unprefixed("park") == "park"


def test_keywords_drop_stop_words_numbers_and_repeats_in_both_languages():
    assert keywords("החניה מלאה, אין חניה בשבת ב-2024") == ["חניה", "מלאה", "שבת"]
    assert keywords("The PARKING is full and the parking is far") == ["parking", "full", "far"]
    assert keywords("של את על הוא היא זה") == []
    assert keywords("the and of to it ok") == []
    assert keywords("והוא") == []  # a stop word behind a prefix
    assert all(keywords(w) == [] for w in STOP)
    assert keywords("המזגן לא עובד במועדון") == ["מזגנ", "עובד", "מועדונ"]


def test_two_word_phrases_are_keywords_next_to_each_other():
    assert phrases("חניה נגישה ליד הכניסה") == ["חניה נגישה"]  # "ליד" (near) is a stop word
    assert phrases("מזגן שבור במועדון") == ["מזגנ שבור", "שבור מועדונ"]
    assert phrases("parking and spaces") == []  # a stop word between them ends the run
    assert phrases("more parking spaces please") == ["parking spaces"]


def test_a_term_is_shown_with_hebrew_final_letters():
    assert display("מזגנ") == "מזגן"
    assert display("ילדימ מועדונ") == "ילדים מועדון"
    assert display("parking") == "parking"
    assert display("חניה") == "חניה"


def test_punctuation_ends_a_phrase():
    assert phrases("parking garage, חניה") == ["parking garage"]
    assert phrases("מזגן. שבור") == []
    assert keywords("מזגן. שבור") == ["מזגנ", "שבור"]
