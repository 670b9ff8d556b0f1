"""The message catalogs: compile them, or update them from the code.

    python -m shared.web.catalogs           compile every stale catalog (images run it at build time)
    python -m shared.web.catalogs update    extract the strings of the kit and of each service into their
                                            Hebrew catalogs (kept translations stay), then compile

Catalogs live in shared/web/translations/ (the frame) and services/<name>/translations/ (its pages), as
<lang>/LC_MESSAGES/messages.po. The compiled .mo files are never committed."""
from __future__ import annotations

import argparse
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from shared.web.i18n import DOMAIN, KIT_TRANSLATIONS, LANGUAGES, SOURCE_LANGUAGE, compile_catalogs

REPO_ROOT = KIT_TRANSLATIONS.parents[2]
# Python (_, gettext, lazy_gettext ...) and the Jinja templates; never the tests.
EXTRACT_METHODS = [("**/tests/**", "ignore"), ("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "pgettext": ((1, "c"), 2)}


def catalog_folders(root: Path = REPO_ROOT) -> list[Path]:
    """The kit's translations/ folder and each service's (whether it has one yet or not)."""
    services = sorted(p.parent for p in (root / "services").glob("*/__init__.py"))
    return [KIT_TRANSLATIONS] + [service / "translations" for service in services]


def update_catalogs(root: Path = REPO_ROOT) -> None:
    for folder in catalog_folders(root):
        template = Catalog(project="cocreate", domain=DOMAIN)
        for filename, lineno, message, comments, context in extract_from_dir(
                folder.parent, EXTRACT_METHODS, keywords=KEYWORDS, comment_tags=("Translators:",)):
            template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
        if not len(template):
            continue
        for lang in LANGUAGES:
            if lang == SOURCE_LANGUAGE:
                continue
            po = folder / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
            if po.exists():
                with po.open("rb") as f:
                    catalog = read_po(f, locale=lang)
            else:
                po.parent.mkdir(parents=True, exist_ok=True)
                catalog = Catalog(locale=lang, domain=DOMAIN, project="cocreate")
            catalog.update(template)
            with po.open("wb") as f:
                write_po(f, catalog, width=100, ignore_obsolete=True)
            untranslated = sum(1 for m in catalog if m.id and not m.string)
            print(f"updated {po.relative_to(root)} ({untranslated} untranslated)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="compile", choices=["compile", "update"])
    args = parser.parse_args()
    if args.command == "update":
        update_catalogs()
    for folder in catalog_folders():
        for mo in compile_catalogs(folder):
            print(f"compiled {mo.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
