"""The texts of the pushes: a first line that tells the story on a phone's lock screen.

Every function returns a `Push`: plain text (notify.run shows no markup), English until the
`Notifier` says it in PUSH_LANGUAGE. Details follow on later lines for whoever opens the
notification.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from bot.i18n import N_, SOURCE_LANGUAGE, number, percent, plural, say
from bot.storage.records import StatusReport, StorageAlert
from model.learning.report import TrainingReport

Picture = Callable[[str], bytes]  # draws the picture with its words in the given language


@dataclass(frozen=True, eq=False)
class Push:
    """A push: how to say it in any language, the language it is said in, maybe a picture.

    Retraining and the schedules build pushes in English without knowing PUSH_LANGUAGE; the
    `Notifier`, which does, says them in it (`in_language`). `picture`, when set, draws a
    picture that belongs with the push; only a mirror that can show pictures calls `draw`.
    """

    render: Callable[[str], str]
    lang: str = SOURCE_LANGUAGE
    picture: Picture | None = None

    @classmethod
    def of_text(cls, text: str) -> Push:
        """A push whose text is the same in every language."""
        return cls(lambda lang: text)

    @property
    def text(self) -> str:
        """The push's text in its language."""
        return self.render(self.lang)

    def in_language(self, lang: str) -> Push:
        """The same push said in `lang`."""
        return replace(self, lang=lang)

    def draw(self) -> bytes:
        """The push's picture in its language; blocking (call it off the event loop)."""
        if self.picture is None:
            raise ValueError("this push has no picture")
        return self.picture(self.lang)

    def __str__(self) -> str:
        return self.text


def bot_started(model_version: str) -> Push:
    """The bot came up and serves `model_version`."""
    return Push(
        lambda lang: say(lang, N_("▶️ Digit bot started · model {version}"), version=model_version)
    )


def bot_stopped() -> Push:
    """The bot is shutting down cleanly (a crash sends nothing, hence the status report)."""
    return Push(lambda lang: say(lang, N_("⏹ Digit bot stopped")))


def bot_error(kind: str, count: int = 1) -> Push:
    """Updates failed: `count` times since the last push of that `kind`, the error's type only
    (its text can quote request details)."""
    if count == 1:
        return Push(
            lambda lang: say(lang, N_("Bot error: {kind} (details in the logs)"), kind=kind)
        )
    return Push(
        lambda lang: plural(
            lang,
            "Bot error: {kind}, {count} time since the last push (details in the logs)",
            "Bot error: {kind}, {count} times since the last push (details in the logs)",
            count,
            kind=kind,
        )
    )


def retrain_started(trigger: str) -> Push:
    """Who or what started a retraining ("schedule", "admin 123")."""
    return Push(lambda lang: say(lang, N_("🔄 Retraining started ({trigger})"), trigger=trigger))


def retrain_finished(report: TrainingReport, picture: Picture | None = None) -> Push:
    """A new model is serving: how long, on what, how good, how different.

    `picture` draws the new model's confusion matrix and typical members (admins in Telegram).
    """
    metrics = report.metrics

    def render(lang: str) -> str:
        quality = (
            say(
                lang,
                N_("ACC {acc} · NMI {nmi}"),
                acc=percent(lang, metrics["acc"], 1),
                nmi=percent(lang, metrics["nmi"], 1),
            )
            if metrics
            else say(lang, N_("no labels to measure"))
        )
        if report.changed_answers is not None:
            quality += plural(
                lang,
                " · {count} answer would change",
                " · {count} answers would change",
                report.changed_answers,
            )
        headline = say(
            lang,
            N_("✅ Retrained in {duration}: {quality}"),
            duration=_duration(lang, report.duration_s),
            quality=quality,
        )
        images = say(
            lang,
            N_("{mnist} MNIST + {users} user images · model {version}"),
            mnist=number(lang, report.n_train),
            users=number(lang, report.n_extra),
            version=report.version,
        )
        sizes = say(
            lang,
            N_("cluster sizes: {sizes}"),
            sizes=" / ".join(number(lang, size) for size in report.cluster_sizes),
        )
        return f"{headline}\n{images}\n{sizes}"

    return Push(render, picture=picture)


def retrain_failed(reason: str) -> Push:
    """The run broke; the current model keeps serving."""
    failed = N_("❌ Retraining failed, current model kept: {reason}")
    return Push(lambda lang: say(lang, failed, reason=reason))


def retrain_rejected(reason: str, picture: Picture | None = None) -> Push:
    """The new model did not pass the quality gate; the current model keeps serving.

    `picture` draws the rejected model's confusion matrix and typical members.
    """
    rejected = N_("⚠️ New model rejected, current model kept: {reason}")
    return Push(lambda lang: say(lang, rejected, reason=reason), picture=picture)


def mnist_downloaded(directory: str) -> Push:
    """A fresh deployment had no MNIST files: they were fetched (MD5-verified) to train on."""
    downloaded = N_("📥 MNIST files were missing from {directory}: downloaded, checksums verified")
    return Push(lambda lang: say(lang, downloaded, directory=directory))


def storage_alert(alert: StorageAlert) -> Push:
    """The stored pictures nearly fill STORAGE_CAP_GB, or one did not fit (each said once)."""

    def render(lang: str) -> str:
        cap = _size(lang, alert.cap)
        if alert.full:
            headline = say(
                lang,
                N_("🛑 Stored pictures reached the cap ({cap}): new ones are not kept"),
                cap=cap,
            )
            advice = N_(
                "Photos are still answered and their digits kept. Raise STORAGE_CAP_GB, or "
                "lower RETENTION_DAYS."
            )
        else:
            headline = say(
                lang,
                N_("💾 Stored pictures at {share} of the cap: {size} of {cap}"),
                share=percent(lang, alert.original_bytes / alert.cap),
                size=_size(lang, alert.original_bytes),
                cap=cap,
            )
            advice = N_("Raise STORAGE_CAP_GB, or lower RETENTION_DAYS, before it fills.")
        return f"{headline}\n{say(lang, advice)}"

    return Push(render)


def status_report(
    report: StatusReport, *, now: datetime, model_version: str, failed_pushes: int
) -> Push:
    """The periodic summary: traffic, quality, model, disk and our own delivery problems."""

    def render(lang: str) -> str:
        accuracy = report.accuracy.share
        live = (
            plural(
                lang,
                "live accuracy {share} ({count} answer rated)",
                "live accuracy {share} ({count} answers rated)",
                report.accuracy.feedback,
                share=percent(lang, accuracy),
            )
            if accuracy is not None
            else say(lang, N_("no feedback yet"))
        )
        per_cluster = sorted(report.per_cluster.items())
        clusters = " ".join(f"{c}:{number(lang, n)}" for c, n in per_cluster)
        extras = ""
        if report.retrains:
            runs = len(report.retrains)
            extras += plural(lang, " · {count} retrain", " · {count} retrains", runs)
        if failed_pushes:
            extras += plural(
                lang, " · {count} push failed", " · {count} pushes failed", failed_pushes
            )
        traffic = say(
            lang,
            N_("📊 {photos} from {users} in {period} · {live}"),
            photos=plural(lang, "{count} photo", "{count} photos", report.photos),
            users=plural(lang, "{count} user", "{count} users", report.active_users),
            period=_duration(lang, (now - report.since).total_seconds()),
            live=live,
        )
        clustered = say(
            lang,
            N_("per cluster: {clusters} · outliers {outliers}"),
            clusters=clusters or say(lang, N_("none")),
            outliers=number(lang, report.outliers),
        )
        stored = say(
            lang,
            N_("model {version} · {size} stored"),
            version=model_version,
            size=_size(lang, report.original_bytes),
        )
        return f"{traffic}\n{clustered}\n{stored}{extras}"

    return Push(render)


def _duration(lang: str, seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return say(lang, N_("{s}s"), s=seconds)
    if seconds < 3600:
        return say(lang, N_("{m}m{s}s"), m=seconds // 60, s=f"{seconds % 60:02d}")
    if seconds < 2 * 86400:
        minutes = seconds % 3600 // 60
        if minutes:
            return say(lang, N_("{h}h{m}m"), h=seconds // 3600, m=f"{minutes:02d}")
        return say(lang, N_("{h}h"), h=seconds // 3600)
    return say(lang, N_("{d}d"), d=seconds // 86400)


def _size(lang: str, n_bytes: int) -> str:
    if n_bytes < 1000:
        return say(lang, N_("{size} B"), size=number(lang, n_bytes))
    size = n_bytes / 1000
    for unit in (N_("{size} kB"), N_("{size} MB")):
        if size < 1000:
            return say(lang, unit, size=number(lang, size, 1))
        size /= 1000
    return say(lang, N_("{size} GB"), size=number(lang, size, 1))
