"""The user's language: gettext catalogs read with Babel, and Babel's number and date formats.

English is the source language: the messages in `bot/texts/` and `bot/pushes.py` are the
English texts and the catalog ids, and so are model/serving's reasons for refusing a picture
(`model/serving/refusals.py`). Another language has `bot/locale/<lang>/LC_MESSAGES/bot.po`;
a language without one, and any message missing from one, falls back to English.

The `.po` files are compiled in memory the first time a language is used (Babel's `read_po`
and `write_mo`), so the `.po` is the only copy: nothing to compile after an edit or an install,
and no committed binary to fall out of date.
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from babel import Locale
from babel.dates import format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

if TYPE_CHECKING:
    from telegram import Update

SOURCE_LANGUAGE = "en"  # the language of the code's sentences, and of a user without a catalog
DOMAIN = "bot"  # the catalogs' file name (bot.po)
LOCALE_DIR = Path(__file__).resolve().parent / "locale"  # where the catalogs are

# What Babel's extractor (`pybabel extract -k N_ -k plural:2,3`) looks for in the modules below:
# constants marked N_("..."), and plural(lang, "one", "many", count).
EXTRACT_KEYWORDS: dict[str, tuple[int, ...] | None] = {"N_": None, "plural": (2, 3)}
# The modules of bot/ that hold sentences, relative to bot/.
MESSAGE_MODULES = (
    "texts/replies.py",
    "texts/info.py",
    "texts/personal_data.py",
    "texts/admins.py",
    "pushes.py",
)


def catalog_path(lang: str) -> Path:
    """Where the catalog of `lang` lives (it may not exist)."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def languages() -> frozenset[str]:
    """English and every language with a catalog."""
    found = {path.parent.parent.name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return frozenset({SOURCE_LANGUAGE, *found})


def language_of(code: str | None) -> str:
    """The language to answer in for Telegram's `language_code` ("fr", "fr-CA", "it", None)."""
    base = (code or "").replace("_", "-").split("-")[0].lower()
    return base if base in languages() else SOURCE_LANGUAGE


def user_language(update: Update) -> str:
    """The language of the person who sent `update`."""
    user = update.effective_user
    return language_of(user.language_code if user else None)


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog of `lang`, compiled from its `.po`; English (the message ids) otherwise."""
    path = catalog_path(lang)
    if lang == SOURCE_LANGUAGE or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy and empty entries are left out: they fall back
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def N_(message: str) -> str:  # noqa: N802 - the name gettext's tools look for
    """Mark `message` for the catalogs; `say` translates it when it is sent."""
    return message


def say(lang: str, message: str, **fields: object) -> str:
    """`message` (an English catalog id) in `lang`, with its {fields} filled in."""
    text = translations(lang).gettext(message)
    return text.format(**fields) if fields else text


def plural(lang: str, one: str, many: str, count: int, **fields: object) -> str:
    """The form of `one` / `many` for `count` in `lang` (in French 0 and 1 take `one`);
    {count} becomes the number as the language writes it."""
    text = translations(lang).ngettext(one, many, count)
    return text.format(count=number(lang, count), **fields)


def say_matching(lang: str, text: str, templates: Sequence[str]) -> str:
    """English `text` in `lang` when it is one of `templates` with whole numbers for its
    {fields} ("only 8x6 pixels"), numbers written for `lang`; otherwise `text` as it is."""
    for template in templates:
        pattern = re.escape(template)
        for field in re.findall(r"\{(\w+)\}", template):
            pattern = pattern.replace(re.escape("{" + field + "}"), f"(?P<{field}>[0-9,]+)")
        match = re.fullmatch(pattern, text)
        if match:
            found = {key: int(value.replace(",", "")) for key, value in match.groupdict().items()}
            return say(lang, template, **{key: number(lang, n) for key, n in found.items()})
    return text


def number(lang: str, value: float, decimals: int | None = None) -> str:
    """60,000 in English, 60 000 in French; exactly `decimals` digits after the point if given."""
    if decimals is None:
        return format_decimal(value, locale=lang)
    return format_decimal(value, "#,##0." + "0" * decimals, locale=lang)


def percent(lang: str, share: float, decimals: int = 0) -> str:
    """94% in English, 94 % in French; `decimals` digits after the point."""
    pattern = Locale.parse(lang).percent_formats[None].pattern
    if decimals:
        pattern = pattern.replace("0", "0." + "0" * decimals, 1)
    return format_percent(share, pattern, locale=lang)


def moment(lang: str, when: datetime) -> str:
    """A date and time in UTC as the language writes them ("Dec 1, 2026, 09:45 UTC")."""
    on = format_skeleton("yMMMd", when, tzinfo=UTC, locale=lang)
    at = format_skeleton("Hm", when, tzinfo=UTC, locale=lang)
    return Locale.parse(lang).datetime_formats["medium"].format(at, on) + " UTC"


def day(lang: str, when: date) -> str:
    """A day of the year, short ("Dec 1", "1 déc.")."""
    return format_skeleton("MMMd", when, locale=lang)
