"""End to end: the per-user flood limit on every update, in one bot and across two."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from bot import texts
from testkit.bot_harness import running_bot

USER, OTHER = 701, 702
NOTICE = "You are sending me too much at once; I will answer again in "


def _notices(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages if m.get("text", "").startswith(NOTICE)]


async def test_a_burst_of_texts_gets_a_few_replies_and_one_notice_while_others_are_answered(
    tmp_path: Path, model_path: Path
) -> None:
    async with running_bot(tmp_path, model_path, rate_limit="8/minute") as bot:
        tg = bot.telegram
        for n in range(40):
            tg.send_text(USER, USER, f"hello {n}")
        sent_at = time.monotonic()
        tg.send_text(OTHER, OTHER, "hello")
        await tg.wait_for_replies(OTHER, 1)
        await bot.settle()

    [other_reply] = [c for c in tg.calls_of("sendMessage") if int(c.params["chat_id"]) == OTHER]
    replies = tg.sent[USER]
    assert other_reply.at - sent_at < 1.0
    assert len(replies) <= 10
    assert len(_notices(replies)) == 1
    assert sum(r["text"] == texts.NOT_AN_IMAGE for r in replies) == 8
    assert tg.sent[OTHER][0]["text"] == texts.NOT_AN_IMAGE


async def test_buttons_beyond_the_limit_are_answered_without_a_word(
    tmp_path: Path, model_path: Path
) -> None:
    async with running_bot(tmp_path, model_path, rate_limit="3/minute") as bot:
        tg = bot.telegram
        for _ in range(3):
            tg.send_text(USER, USER, "/help")
        replies = await tg.wait_for_replies(USER, 3)
        before = len(tg.calls)
        for _ in range(3):
            tg.press_button(USER, USER, replies[0]["message_id"], "fb:1:3")
        answers = await tg.wait_for_calls("answerCallbackQuery", 3)
        await bot.settle()

    notice, *silent = sorted((a.params for a in answers), key=lambda p: "text" not in p)
    assert notice["text"].startswith(NOTICE)
    assert notice["show_alert"] in (True, "true")
    assert silent == [{"callback_query_id": p["callback_query_id"]} for p in silent]
    assert len(tg.sent[USER]) == 3
    made = [c.method for c in tg.calls[before:] if c.method != "getUpdates"]
    assert made == ["answerCallbackQuery"] * 3


async def test_the_limit_holds_across_two_bots_on_one_database(
    tmp_path: Path, model_path: Path, database_url: str
) -> None:
    """Each bot alone would answer all five; together they answer six of the ten."""
    async with contextlib.AsyncExitStack() as stack:
        first, second = [
            await stack.enter_async_context(
                running_bot(
                    tmp_path / name, model_path, database_url=database_url, rate_limit="6/minute"
                )
            )
            for name in ("replica-1", "replica-2")
        ]
        for bot, texts_sent in ((first, 3), (second, 3), (first, 2), (second, 2)):
            for n in range(texts_sent):
                bot.telegram.send_text(USER, USER, f"hello {n}")
            await bot.telegram.wait_until(lambda bot=bot: not bot.telegram.unconfirmed())
            await bot.settle()

    answered = [m for m in first.telegram.sent[USER] if m["text"] == texts.NOT_AN_IMAGE]
    assert len(answered) == 3
    assert len(_notices(first.telegram.sent[USER])) == 1
    assert [m["text"] for m in second.telegram.sent[USER]] == [texts.NOT_AN_IMAGE] * 3
