"""What users' answers say a cluster is: the bars a claim must pass (bot/meanings.py)."""

from __future__ import annotations

import pytest

from bot.meanings import MIN_ANSWERS, MIN_SHARE, MIN_USERS, tally
from bot.storage import Vote


def _votes(cluster: int, said: dict[int, int], users: int) -> list[Vote]:
    """`said[digit]` answers about `cluster`, spread over `users` people in turn."""
    votes: dict[tuple[int, int], int] = {}
    n = 0
    for digit, count in said.items():
        for _ in range(count):
            key = (digit, n % users)
            votes[key] = votes.get(key, 0) + 1
            n += 1
    return [Vote(cluster, digit, 100 + user, count) for (digit, user), count in votes.items()]


def test_counts_answers_people_and_the_digit_most_said_per_cluster() -> None:
    tallies = tally(_votes(3, {1: 18, 7: 2}, users=6) + _votes(5, {4: 3}, users=1))

    assert sorted(tallies) == [3, 5]
    three = tallies[3]
    assert (three.cluster, three.answers, three.users, three.digit, three.agreeing) == (
        3,
        20,
        6,
        1,
        18,
    )
    assert three.share == pytest.approx(0.9)
    assert three.says_a_digit
    assert not tallies[5].says_a_digit


@pytest.mark.parametrize(
    ("said", "users", "says"),
    [
        ({1: MIN_ANSWERS}, MIN_USERS, True),
        ({1: MIN_ANSWERS - 1}, MIN_USERS, False),
        ({1: MIN_ANSWERS * 10}, MIN_USERS - 1, False),
        ({1: 16, 7: 4}, MIN_USERS, True),  # exactly MIN_SHARE
        ({1: 16, 7: 5}, MIN_USERS, False),
    ],
)
def test_a_cluster_is_named_only_past_every_bar(
    said: dict[int, int], users: int, says: bool
) -> None:
    [answers] = tally(_votes(0, said, users)).values()
    assert answers.says_a_digit is says
    assert (answers.share >= MIN_SHARE) is (said[1] / sum(said.values()) >= MIN_SHARE)


def test_a_tie_names_the_smaller_digit_every_time() -> None:
    votes = _votes(2, {7: 10, 1: 10}, users=5)
    assert tally(votes)[2].digit == tally(list(reversed(votes)))[2].digit == 1
