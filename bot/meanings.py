"""What users' answers say each cluster is: "people say these are 1s (94% of 212 answers)".

The clusters' numbers are the model's own. The digit buttons under replies collect what users
say their digits were; once enough people agree about a cluster, replies say so. This only
shows the clusters: answers never train the model and never move a digit to another cluster.

The figures are kept in memory, never read per reply. Answers to digits the served model
assigned are counted in SQL; digits kept from earlier models are assigned again by the served
one (after a retraining the clusters are the new model's), at most every OLDER_EVERY seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.model_provider import ModelProvider
from bot.storage import Storage, StorageUnavailableError, Vote
from model.serving.modelfile import DigitModel

MIN_ANSWERS = 20  # answers about a cluster before it is said to be a digit
MIN_USERS = 5  # from at least this many people
MIN_SHARE = 0.8  # of whom this share said the same digit
OLDER_EVERY = 900.0  # seconds between readings of the digits earlier models assigned
BATCH = 2000  # digits read and assigned at a time

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClusterAnswers:
    """Users' answers about one cluster's digits: how many, from how many people, the digit
    most of them said and how many said it."""

    cluster: int
    answers: int
    users: int
    digit: int
    agreeing: int

    @property
    def share(self) -> float:
        return self.agreeing / self.answers

    @property
    def says_a_digit(self) -> bool:
        """Enough answers, from enough people, agreeing enough to tell users what it is."""
        return self.answers >= MIN_ANSWERS and self.users >= MIN_USERS and self.share >= MIN_SHARE


def tally(votes: Iterable[Vote]) -> dict[int, ClusterAnswers]:
    """Each answered cluster's answers, from votes counted per cluster, digit and user."""
    per_digit: dict[int, Counter[int]] = {}
    users: dict[int, set[int]] = {}
    for vote in votes:
        per_digit.setdefault(vote.cluster, Counter())[vote.digit] += vote.answers
        users.setdefault(vote.cluster, set()).add(vote.user_id)
    tallies = {}
    for cluster, digits in per_digit.items():
        # The most said digit; between equals, the smaller, so the figure never flickers.
        digit, agreeing = min(digits.items(), key=lambda item: (-item[1], item[0]))
        tallies[cluster] = ClusterAnswers(
            cluster, sum(digits.values()), len(users[cluster]), digit, agreeing
        )
    return dict(sorted(tallies.items()))


class ClusterMeanings:
    """The served model's clusters as users' answers describe them, refreshed in the background.

    Call `request_refresh` after answers change (a button, a number, /forget) and on a
    schedule, so that answers given to another replica show too.
    """

    def __init__(
        self,
        storage: Storage,
        models: ModelProvider,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._storage = storage
        self._models = models
        self._clock = clock
        self._older: tuple[str, float, list[Vote]] | None = None  # version, read at, votes
        self._tallies: tuple[str, dict[int, ClusterAnswers]] = ("", {})
        self._lock = asyncio.Lock()
        self._pending = False
        self._task: asyncio.Task[None] | None = None

    @property
    def counted_version(self) -> str:
        """The model version the figures are for ("" before the first count)."""
        return self._tallies[0]

    def answers(self, version: str) -> dict[int, ClusterAnswers]:
        """Every answered cluster of model `version` (for admins); empty until it is counted."""
        counted_for, tallies = self._tallies
        return dict(tallies) if counted_for == version else {}

    def meanings(self, version: str) -> dict[int, ClusterAnswers]:
        """The clusters of model `version` that users' answers say a digit of."""
        return {c: a for c, a in self.answers(version).items() if a.says_a_digit}

    def request_refresh(self, *, older_too: bool = False) -> None:
        """Count again soon, without waiting; `older_too` also re-reads earlier models' digits
        (after an erasure)."""
        if older_too:
            self._older = None
        self._pending = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._refresh_while_pending())

    async def settled(self) -> None:
        """Wait until every requested refresh is done."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def refresh(self) -> None:
        """Count the served model's clusters' answers now; keeps the last figures if the
        database is unreachable (StorageUnavailableError)."""
        async with self._lock:
            model = self._models.current
            older = self._older
            if (
                older is None
                or older[0] != model.version
                or self._clock() - older[1] >= OLDER_EVERY
            ):
                read_at = self._clock()
                older = (model.version, read_at, await self._assign_older(model))
                self._older = older
            current = await self._storage.votes(model.version)
            self._tallies = (model.version, tally([*older[2], *current]))

    async def close(self) -> None:
        """Stop a refresh in progress (at shutdown)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _refresh_while_pending(self) -> None:
        while self._pending:
            self._pending = False
            try:
                await self.refresh()
            except StorageUnavailableError as exc:
                log.warning("clusters' answers not counted again: %s", exc)
                return

    async def _assign_older(self, model: DigitModel) -> list[Vote]:
        """The answers to digits earlier models assigned, with `model`'s clusters."""
        counts: Counter[tuple[int, int, int]] = Counter()
        after = 0
        while True:
            batch = await self._storage.answered_digits(model.version, after, BATCH)
            if not batch.digits:
                break
            assigned = await self._models.run(model.assign, batch.images)
            counts.update(zip(assigned.clusters.tolist(), batch.digits, batch.users, strict=True))
            after = batch.last_id
        return [Vote(*key, count) for key, count in counts.items()]
