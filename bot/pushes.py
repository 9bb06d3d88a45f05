"""The texts of the pushes: a first line that tells the story on a phone's lock screen.

Every function returns a `Push`: plain text (notify.run shows no markup), English until the
`Notifier` says it in PUSH_LANGUAGE. Details follow on later lines for whoever opens the
notification.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from bot.i18n import N_, SOURCE_LANGUAGE, number, percent, plural, say
from bot.storage.records import StatusReport, StorageAlert

Picture = Callable[[str], bytes]  # draws the picture with its words in the given language


class Push(str):
    """A push's text in one language (English as built), able to say itself in another.

    Retraining and the schedules build pushes without knowing PUSH_LANGUAGE; the `Notifier`,
    which does, calls `in_language`. Being a `str`, a push can still be logged, compared and
    sent as it is. `picture`, when set, draws a picture that belongs with the push; only a
    mirror that can show pictures calls `draw`.
    """

    render: Callable[[str], str]
    lang: str
    picture: Picture | None

    def __new__(
        cls,
        render: Callable[[str], str],
        *,
        lang: str = SOURCE_LANGUAGE,
        picture: Picture | None = None,
    ) -> Push:
        push = super().__new__(cls, render(lang))
        push.render, push.lang, push.picture = render, lang, picture
        return push

    def in_language(self, lang: str) -> Push:
        """The same push said in `lang`."""
        return Push(self.render, lang=lang, picture=self.picture)

    def draw(self) -> bytes:
        """The push's picture in its language; blocking (call it off the event loop)."""
        if self.picture is None:
            raise ValueError("this push has no picture")
        return self.picture(self.lang)


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


def retrain_finished(
    *,
    version: str,
    duration_s: float,
    n_train: int,
    n_extra: int,
    metrics: Mapping[str, float] | None,
    cluster_sizes: Sequence[int],
    changed_answers: int | None,
    picture: Picture | None = None,
) -> Push:
    """A new model is serving: how long, on what, how good, how different.

    `picture` draws the new model's confusion matrix and typical members (admins in Telegram).
    """

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
        if changed_answers is not None:
            quality += plural(
                lang,
                " · {count} answer would change",
                " · {count} answers would change",
                changed_answers,
            )
        headline = say(
            lang,
            N_("✅ Retrained in {duration}: {quality}"),
            duration=_duration(lang, duration_s),
            quality=quality,
        )
        images = say(
            lang,
            N_("{mnist} MNIST + {users} user images · model {version}"),
            mnist=number(lang, n_train),
            users=number(lang, n_extra),
            version=version,
        )
        sizes = say(
            lang,
            N_("cluster sizes: {sizes}"),
            sizes=" / ".join(number(lang, size) for size in cluster_sizes),
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
