"""The demo judge's synthetic domain: short questions with a reference answer.

Five kinds of fact, each answered by one value that the reference states: the capital of a
made-up country, the colour of a made-up fruit, the moons of a made-up planet, a made-up
person's favourite animal, and a one-digit sum or difference ("What is 3 + 4?"). Entities
are built from syllables by a seeded generator and values are drawn at random, so nothing
depends on world knowledge: the judge can only be right by comparing each answer with the
reference. An answer that agrees with the reference, in any of several phrasings, scores 9;
one that gives another value scores 3. The judge writes JudgeLM's score line ("9 3") and a
short explanation.

Everything is a pure function of its seed: ``make_pairs(n, seed)`` is the training set for
one seed and a held-out set for another. ``make_outliers`` makes unjudgeable pairs, on which
the judge is trained to be unsure.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

GOOD, BAD = 9, 3  # the scores an answer that agrees / disagrees with the reference gets

_SYLLABLES = ("ka", "lo", "mi", "ra", "ven", "tor", "sel", "dun", "bri", "mar", "qua", "zel",
              "fen", "gor", "thi", "nal", "ost", "pel", "rin", "vak", "su", "be", "cor", "hal")
CITIES = ("Tarnesk", "Velmor", "Karvel", "Lumbra", "Dorask", "Miren", "Zolbin", "Quarth",
          "Pellow", "Sarnic", "Tovask", "Brenn", "Halvik", "Norwen", "Estrel", "Gallin",
          "Varek", "Olmund", "Rusk", "Tembra", "Ivrel", "Cassor", "Yarrow", "Fendral",
          "Morwick", "Elbar", "Dunmere", "Sablet", "Korrin", "Avesh")
COLOURS = ("red", "blue", "green", "yellow", "purple", "orange", "black", "white", "pink",
           "brown", "grey", "silver")
ANIMALS = ("cat", "dog", "horse", "owl", "fox", "bear", "wolf", "deer", "goat", "duck",
           "frog", "otter")
DIGITS = tuple(str(d) for d in range(2, 10))
VALUES = tuple(sorted(set(CITIES + COLOURS + ANIMALS + DIGITS)))  # every value, once


@dataclass(frozen=True)
class Relation:
    """A kind of fact: how its question, reference and answers are phrased, and its values.
    In the phrasings ``{e}`` is the entity and ``{v}`` the value. A word value always
    follows a space, so that it is one and the same token wherever it appears."""

    questions: tuple[str, ...]
    references: tuple[str, ...]
    answers: tuple[str, ...]
    values: tuple[str, ...]


RELATIONS = {
    "capital": Relation(
        ("What is the capital of {e}?", "Which city is the capital of {e}?",
         "Name the capital of {e}."),
        ("The capital of {e} is {v}.", "Answer: {v}", "It is {v}."),
        ("It is {v}.", "The capital is {v}.", "The capital of {e} is {v}.",
         "I believe it's {v}.", "That would be {v}.", "Answer: {v}", "Its capital is {v}."),
        CITIES),
    "colour": Relation(
        ("What colour is a ripe {e}?", "What is the colour of a ripe {e}?"),
        ("A ripe {e} is {v}.", "Answer: {v}", "It is {v} when ripe."),
        ("It is {v}.", "A ripe {e} is {v}.", "I think it's {v}.", "They turn {v} when ripe.",
         "Answer: {v}", "Ripe ones are {v}."), COLOURS),
    "moons": Relation(
        ("How many moons does {e} have?", "How many moons orbit {e}?"),
        ("{e} has {v} moons.", "{v}", "It has {v} moons."),
        ("{v}", "{v}.", "It has {v} moons.", "{e} has {v} moons.", "There are {v} of them.",
         "I believe it has {v}."), DIGITS),
    "animal": Relation(
        ("What is {e}'s favourite animal?", "Which animal does {e} like best?"),
        ("{e}'s favourite animal is the {v}.", "Answer: the {v}", "It is the {v}."),
        ("It is the {v}.", "{e} likes the {v} best.", "I think it's the {v}.",
         "Answer: the {v}", "The {v}, I believe.", "Probably the {v}."), ANIMALS),
    "arithmetic": Relation(
        ("What is {e}?", "Compute {e}.", "How much is {e}?"),
        ("{e} = {v}", "{v}", "The answer is {v}."),
        ("{v}", "{v}.", "The answer is {v}.", "{e} = {v}.", "It is {v}.",
         "That would be {v}."), DIGITS),
}


@dataclass(frozen=True)
class Fact:
    """One question with its reference and true value."""

    kind: str
    entity: str
    value: str
    question: str
    reference: str


def _name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()


def _entity_and_value(rng: random.Random, kind: str) -> tuple[str, str]:
    if kind == "arithmetic":
        value = rng.randint(2, 9)
        if rng.random() < 0.5:
            a = rng.randint(1, value - 1)
            return f"{a} + {value - a}", str(value)
        b = rng.randint(1, 9)
        return f"{value + b} - {b}", str(value)
    entity = {"capital": lambda: _name(rng, rng.randint(1, 2)) + rng.choice(
                  ("ia", "land", "stan", "ora", "mark")),
              "colour": lambda: _name(rng, 2).lower() + rng.choice(("berry", "fruit", "plum")),
              "moons": lambda: _name(rng, rng.randint(2, 3)),
              "animal": lambda: f"{_name(rng, 2)} {_name(rng, 2)}"}[kind]()
    return entity, rng.choice(RELATIONS[kind].values)


def _say(text: str, entity: str, value: str) -> str:
    return text.format(e=entity, v=value)


def make_fact(rng: random.Random) -> Fact:
    kind = rng.choice(sorted(RELATIONS))
    relation = RELATIONS[kind]
    entity, value = _entity_and_value(rng, kind)
    return Fact(kind, entity, value, _say(rng.choice(relation.questions), entity, value),
                _say(rng.choice(relation.references), entity, value))


def answer(rng: random.Random, fact: Fact, correct: bool) -> tuple[str, str]:
    """An answer to ``fact`` (right or wrong) in a random phrasing, and the value it gives."""
    relation = RELATIONS[fact.kind]
    value = fact.value if correct else rng.choice([v for v in relation.values
                                                   if v != fact.value])
    return _say(rng.choice(relation.answers), fact.entity, value), value


def value_of(text: str) -> str | None:
    """The value a question's answer or reference gives: its last word (or digit) that is
    one of VALUES; None if it has none."""
    found = [w for w in re.findall(r"[A-Za-z]+|[0-9]", text) if w in VALUES]
    return found[-1] if found else None


def make_pairs(n: int, seed: int) -> list[dict[str, object]]:
    """``n`` labelled pairs: A right and B wrong, the reverse, or a tie (both right or wrong).

    Each record has the judge's input fields, the gold ``label`` and, for training, the
    values each answer gives (``value_a``, ``value_b``) and the reference's (``value``).
    """
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    while len(rows) < n:
        fact = make_fact(rng)
        case = rng.random()
        a_right, b_right = ((True, False) if case < 0.35 else (False, True) if case < 0.7
                            else (True, True) if case < 0.85 else (False, False))
        answer_a, value_a = answer(rng, fact, a_right)
        answer_b, value_b = answer(rng, fact, b_right)
        if answer_a == answer_b:
            continue  # the same text twice says nothing about the judge
        label = "A" if a_right > b_right else "B" if b_right > a_right else "tie"
        rows.append({"id": f"s{seed}-{len(rows) + 1}", "question": fact.question,
                     "answer_a": answer_a, "answer_b": answer_b, "reference": fact.reference,
                     "label": label, "kind": fact.kind, "value": fact.value,
                     "value_a": value_a, "value_b": value_b})
    return rows


UNSURE = "I cannot check these answers: the question is not one I know how to judge."
# Words of the domain's own phrasings that outliers mix with made-up words.
_FILLER = ("it", "is", "the", "a", "of", "what", "which", "i", "think", "believe", "that",
           "would", "be", "answer", "capital", "colour", "ripe", "moons", "animal", "has",
           "likes", "best", "when", "there", "are", "how", "many", "much", "city", "name")


def _babble(rng: random.Random, low: int, high: int) -> str:
    words = [rng.choice(_FILLER) if rng.random() < 0.4 else _name(rng, rng.randint(1, 3)).lower()
             for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize()


def make_outliers(n: int, seed: int) -> list[dict[str, object]]:
    """``n`` pairs that the judge cannot check, for outlier exposure (Hendrycks et al. 2019,
    "Deep Anomaly Detection with Outlier Exposure"): question, reference and answers are
    strings of made-up words and the domain's own words, with none of its values. The judge
    learns to spread its scores over 1..9 on them, so that it is unsure of itself where it
    has nothing to compare; ``scores`` is a random score line to continue from."""
    rng = random.Random(seed)
    return [{"id": f"u{seed}-{i}", "question": _babble(rng, 3, 9) + "?",
             "answer_a": _babble(rng, 1, 10) + rng.choice((".", "", "!")),
             "answer_b": _babble(rng, 1, 10) + rng.choice((".", "", "!")),
             "reference": _babble(rng, 1, 9) + ".", "label": None, "kind": "outlier",
             "scores": [rng.randint(1, 9), rng.randint(1, 9)]} for i in range(1, n + 1)]


def target(row: dict[str, object], order: str) -> str:
    """What the judge writes for ``row`` shown in ``order``: "s1 s2\\n" and an explanation."""
    if row["kind"] == "outlier":
        first, second = row["scores"]  # type: ignore[misc]
        return f"{first} {second}\n{UNSURE}" if order == "AB" else f"{second} {first}\n{UNSURE}"
    values = [str(row["value_a"]), str(row["value_b"])]
    if order == "BA":
        values.reverse()
    right = [v == row["value"] for v in values]
    scores = [GOOD if r else BAD for r in right]
    if all(right):
        why = f"Both assistants answer {values[0]}, which agrees with the reference answer."
    elif not any(right):
        why = (f"Neither assistant agrees with the reference answer {row['value']}: "
               f"Assistant 1 answers {values[0]} and Assistant 2 answers {values[1]}.")
    else:
        good, bad = (1, 2) if right[0] else (2, 1)
        why = (f"Assistant {good} answers {values[good - 1]}, which agrees with the reference "
               f"answer. Assistant {bad} answers {values[bad - 1]}, which does not.")
    return f"{scores[0]} {scores[1]}\n{why}"
