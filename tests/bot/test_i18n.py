"""The catalogs agree with the code, and the bot's words change with the language."""

from __future__ import annotations

import copy
import io
import string
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from PIL import Image

from bot import i18n, pushes, texts
from bot.settings import SettingsError, load_settings
from model.serving import refusals
from model.serving.preprocess import PreprocessError, to_mnist
from testkit.bot_harness import TOKEN

Key = str | tuple[str, str]
BOT = Path(i18n.__file__).parent
CATALOGS = sorted(i18n.LOCALE_DIR.glob("*/LC_MESSAGES/bot.po"))


def _extracted() -> set[Key]:
    """Every message id in the code, found the way `pybabel extract` finds them: the bot's, and
    model/serving's reasons for refusing a picture, which the bot says in the user's language."""
    found: set[Key] = set()
    for path in [*(BOT / module for module in i18n.MESSAGE_MODULES), Path(refusals.__file__)]:
        for _, message, _, _ in extract_from_file("python", path, keywords=i18n.EXTRACT_KEYWORDS):
            found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def _read(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def catalog_problems(catalog: Catalog, code: set[Key]) -> list[str]:
    """What is wrong with `catalog` against the code's messages; empty when nothing is."""
    entries = {message.id: message for message in catalog if message.id}
    keys = {key if isinstance(key, str) else (key[0], key[1]) for key in entries}
    problems = [f"missing from the catalog: {key!r}" for key in sorted(code - keys, key=str)]
    problems += [f"not in the code: {key!r}" for key in sorted(keys - code, key=str)]
    for message in entries.values():
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        forms = [message.string] if isinstance(message.string, str) else list(message.string)
        if message.fuzzy or not all(forms):
            problems.append(f"untranslated or fuzzy: {ids[0]!r}")
            continue
        if isinstance(message.id, tuple) and len(forms) != catalog.num_plurals:
            problems.append(f"{len(forms)} plural forms, not {catalog.num_plurals}: {ids[0]!r}")
        wanted = set().union(*(_fields(text) for text in ids))
        for form in forms:
            if _fields(form) != wanted:
                problems.append(f"placeholders {_fields(form)} instead of {wanted}: {ids[0]!r}")
    return problems


def test_french_catalog_exists() -> None:
    assert [path.parent.parent.name for path in CATALOGS] == ["fr"]
    assert i18n.languages() == {"en", "fr"}


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_every_catalog_has_every_message_with_the_same_placeholders(path: Path) -> None:
    code = _extracted()
    assert len(code) > 100
    assert catalog_problems(_read(path), code) == []


def test_the_check_fails_on_a_missing_message_or_a_changed_placeholder() -> None:
    code = _extracted()
    catalog = _read(i18n.catalog_path("fr"))

    missing = copy.deepcopy(catalog)
    missing.delete(texts.ADMIN_ONLY)
    assert catalog_problems(missing, code) == [f"missing from the catalog: {texts.ADMIN_ONLY!r}"]

    changed = copy.deepcopy(catalog)
    entry = changed[texts.CLUSTER_USAGE]
    assert entry is not None
    entry.string = entry.string.replace("{last}", "{dernier}")
    [problem] = catalog_problems(changed, code)
    assert problem.startswith("placeholders {'dernier'} instead of {'last'}")

    stale = copy.deepcopy(catalog)
    stale.add("a sentence the code no longer says", "une phrase que le code ne dit plus")
    assert catalog_problems(stale, code) == [
        "not in the code: 'a sentence the code no longer says'"
    ]


@pytest.mark.parametrize(
    ("code", "lang"),
    [("fr", "fr"), ("fr-CA", "fr"), ("FR", "fr"), ("fr_BE", "fr"), ("it", "en"), ("en-GB", "en"),
     ("", "en"), (None, "en")],
)  # fmt: skip
def test_telegram_language_codes_pick_a_catalog_or_english(code: str | None, lang: str) -> None:
    assert i18n.language_of(code) == lang


def test_french_plurals_take_the_singular_for_zero_and_one() -> None:
    assert texts.forgotten("fr", 0).startswith("C'est fait\u00a0: j'ai effacé 0 photo et")
    assert texts.forgotten("fr", 1).startswith("C'est fait\u00a0: j'ai effacé 1 photo et")
    assert texts.forgotten("fr", 2).startswith("C'est fait\u00a0: j'ai effacé 2 photos et")
    assert texts.forgotten("en", 0).startswith("Done: I erased 0 photos and")
    assert texts.forgotten("en", 1).startswith("Done: I erased 1 photo and")
    assert texts.flooding("fr", 0.2).endswith("dans 1 seconde.")
    assert texts.flooding("fr", 2.5).endswith("dans 3 secondes.")


def test_numbers_and_dates_are_written_the_languages_way() -> None:
    metadata = {
        "trained_at": "2026-11-25T20:21:23+00:00",
        "n_train": 60000,
        "n_extra": 1,
        "metrics": {"acc": 0.9815, "nmi": 0.9506, "ari": 0.9596},
    }
    english = texts.model_info("en", "v1", metadata, 10)
    french = texts.model_info("fr", "v1", metadata, 10)
    assert "Trained Nov 25, 2026, 20:21 UTC." in english
    assert "60,000 MNIST images and 1 image from users" in english
    assert "accuracy 98.2%" in english
    assert "NMI 0.951, ARI 0.960" in english
    assert "Entraîné le 25 nov. 2026, 20:21 UTC." in french
    assert "60\u202f000 images MNIST et 1 image d'utilisateurs" in french
    assert "exactitude 98,2\u00a0%" in french
    assert "NMI 0,951, ARI 0,960" in french
    when = datetime(2026, 12, 1, 9, 5, tzinfo=UTC)
    assert texts.retrain_summary("fr", when, "succeeded", "finished", None) == (
        "1 déc. 2026, 09:05 UTC, réussi"
    )


def _refusal(data: bytes) -> str:
    with pytest.raises(PreprocessError) as refused:
        to_mnist(data)
    return str(refused.value)


def _png(size: tuple[int, int], colour: int = 255) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_preprocessing_refusals_are_said_in_french_with_french_numbers() -> None:
    refusals = [
        _refusal(b"this is text, not a picture"),
        _refusal(_png((8, 6), 0)),
        _refusal(_png((400, 300))),
    ]
    assert len(set(refusals)) == 3
    for reason in refusals:
        french = texts.unreadable("fr", reason)
        assert french.startswith("Je n'ai pas pu lire de chiffre sur cette image. ")
        assert reason not in french
    assert "8x6 pixels" in texts.unreadable("fr", refusals[1])
    unknown = "A reason model/ learned to say yesterday."
    assert texts.unreadable("fr", unknown).endswith(unknown)


def test_the_source_language_needs_no_catalog() -> None:
    assert texts.say("en", texts.ADMIN_ONLY) == texts.ADMIN_ONLY
    assert texts.say("fr", texts.ADMIN_ONLY) != texts.ADMIN_ONLY
    assert texts.help_text("en").startswith("Send me a photo of one handwritten digit")
    assert texts.help_text("fr").startswith("Envoyez-moi la photo d'un chiffre")
    assert "60\u202f000 chiffres MNIST" in texts.help_text("fr")


def test_a_push_is_english_until_said_in_another_language() -> None:
    push = pushes.retrain_started("schedule")
    assert push.text == "🔄 Retraining started (schedule)"
    assert push.in_language("fr").text == "🔄 Réentraînement lancé (schedule)"
    assert push.in_language("fr").in_language("en").text == push.text


def test_push_language_is_a_language_with_a_catalog() -> None:
    given = {"_env_file": None, "telegram_bot_token": TOKEN}
    assert load_settings(**given).push_language == "en"
    assert load_settings(**given, push_language=" FR ").push_language == "fr"
    with pytest.raises(SettingsError, match=r"^PUSH_LANGUAGE is invalid: use one of en, fr\.$"):
        load_settings(**given, push_language="it")
