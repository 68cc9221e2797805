"""Write the example files next to this script, from fixed seeds:

* ``model_a.jsonl``, ``model_b.jsonl``: two "models" answering the same 60 questions of the
  demo judge's domain (``id``, ``question``, ``answer``, ``reference``, ``model``); model B
  agrees with the reference more often;
* ``pairs.jsonl``: 50 labelled in-domain pairs, for the README's quickstart;
* ``labelled.jsonl``: 200 labelled pairs with ``domain`` "in" (the demo judge's synthetic
  task, 100 rows) or "out" (open-ended questions it never saw, 100 rows), for calibration.

    python examples/make_examples.py
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_task import answer, make_fact, make_pairs  # noqa: E402

HERE = Path(__file__).resolve().parent
PAIR_FIELDS = ("id", "question", "answer_a", "answer_b", "reference", "label")

# Out of the demo judge's domain: open-ended questions without numbers, each with a
# reference, two answers that agree with it and two that do not.
OPEN_QUESTIONS = [
    ("Give one tip for sleeping better.", "Go to bed at the same time every night.",
     ("Keep a regular bedtime, even on weekends.",
      "Try to sleep and wake at consistent times each day."),
     ("Drink a strong coffee just before bed.", "Watch exciting films late into the night.")),
    ("Why do leaves change colour in autumn?",
     "Chlorophyll breaks down, revealing the yellow and orange pigments underneath.",
     ("As the green chlorophyll fades, other pigments such as carotenoids become visible.",
      "The chlorophyll breaks down, so the hidden yellow and red pigments show."),
     ("Because farmers paint the trees.", "Leaves turn colour because they feel cold.")),
    ("What is a synonym for 'happy'?", "Joyful.", ("Cheerful.", "Glad or joyful."),
     ("Sad.", "Angry.")),
    ("Translate 'thank you' into French.", "Merci.", ("Merci.", "In French you say merci."),
     ("Gracias.", "Danke.")),
    ("What does a thermometer measure?", "Temperature.",
     ("It measures temperature.", "How hot or cold something is."),
     ("It measures weight.", "The speed of the wind.")),
    ("What should you do if a pan of oil catches fire?",
     "Turn off the heat and cover the pan with a lid; never use water.",
     ("Switch off the stove and smother the flames with a lid.",
      "Put a lid on it and turn off the heat, but do not pour water on it."),
     ("Throw a bucket of water on it.", "Carry the burning pan outside as fast as you can.")),
    ("Explain photosynthesis in one sentence.",
     "Plants use sunlight to turn carbon dioxide and water into sugar and oxygen.",
     ("Plants capture light energy to make sugar from water and carbon dioxide, releasing "
      "oxygen.", "It is how green plants make food from sunlight, water and air."),
     ("It is how animals digest their food.", "It is the way rocks slowly form underground.")),
    ("Which is heavier, a kilogram of feathers or a kilogram of iron?", "They weigh the same.",
     ("Neither; they weigh the same.", "They are equally heavy."),
     ("The iron is heavier.", "The feathers are heavier.")),
    ("What is the opposite of 'ancient'?", "Modern.", ("Modern.", "New or modern."),
     ("Old.", "Antique.")),
    ("Why should you wash your hands before eating?",
     "To remove germs that could make you ill.",
     ("Washing removes germs that might make you sick.",
      "So that bacteria and viruses on your hands do not get into your food."),
     ("To make the food taste sweeter.", "There is no reason; it is only a habit.")),
    ("Write a polite way to decline an invitation.",
     "Thank you for inviting me, but I won't be able to come.",
     ("Thanks so much for the invite; unfortunately I can't make it.",
      "I appreciate the invitation, but I have to decline."),
     ("No. Stop asking me.", "Why would I ever want to come to that?")),
    ("What is the main ingredient of guacamole?", "Avocado.",
     ("Avocado.", "Mashed avocado."), ("Tomato.", "Potatoes.")),
    ("Which gas do humans need to breathe to survive?", "Oxygen.",
     ("Oxygen.", "We need oxygen."), ("Helium.", "Carbon dioxide.")),
    ("Summarize: 'The meeting was moved from Monday to Friday because the manager is "
     "travelling.'", "The meeting is now on Friday because the manager is away.",
     ("The meeting moved to Friday since the manager is travelling.",
      "Because the manager is away, the meeting is on Friday instead."),
     ("The manager cancelled the meeting for good.", "The meeting is on Monday as planned.")),
    ("What is the plural of 'mouse'?", "Mice.", ("Mice.", "The plural is mice."),
     ("Mouses.", "Meese.")),
    ("How can you tell if an egg is fresh?",
     "Put it in water: a fresh egg sinks and a stale one floats.",
     ("Fresh eggs sink in a bowl of water; old ones float.",
      "Place it in water; if it lies on the bottom, it is fresh."),
     ("Fresh eggs are always brown.", "Shake it; a fresh egg makes a ringing sound.")),
    ("Which planet is known as the Red Planet?", "Mars.", ("Mars.", "That is Mars."),
     ("Venus.", "Jupiter.")),
    ("How should you store bread to keep it fresh?",
     "In a cool, dry bread box or a sealed bag.",
     ("Keep it in a sealed bag somewhere cool and dry.", "A bread box away from the heat."),
     ("In a bowl of water.", "Unwrapped on a sunny windowsill.")),
    ("Describe the taste of a lemon.", "Sour and acidic.",
     ("It is very sour.", "Tart and acidic."), ("Sweet like honey.", "Salty and meaty.")),
    ("Give a word that rhymes with 'moon'.", "Spoon.", ("Spoon.", "June."),
     ("Sun.", "Star.")),
    ("Why is the sky blue?", "Air scatters blue sunlight more than other colours.",
     ("Molecules in the air scatter the short blue wavelengths the most.",
      "Blue light is scattered more strongly by the atmosphere."),
     ("Because it reflects the colour of the sea.", "Clouds paint it blue every morning.")),
    ("What should you bring on a long hike?", "Water, food, a map and suitable clothing.",
     ("Plenty of water, snacks, a map and good boots.",
      "Food and water, a map, and clothes for the weather."),
     ("Nothing at all; it is easier with empty hands.", "A heavy television.")),
    ("Correct the spelling: 'recieve'.", "Receive.",
     ("Receive.", "The correct spelling is receive."), ("Recieve.", "Reseave.")),
    ("What does a bee make?", "Honey.", ("Honey.", "Bees make honey."), ("Milk.", "Silk.")),
    ("Recommend a way to reduce stress.", "Take a short walk or practise slow breathing.",
     ("Go for a walk outside.", "Try some deep, slow breathing."),
     ("Skip meals and sleep less.", "Argue with everyone you meet.")),
    ("What is the past tense of 'go'?", "Went.", ("Went.", "The past tense is went."),
     ("Goed.", "Gone.")),
    ("Why do we have seasons?",
     "The Earth's axis is tilted, so the sunlight each hemisphere gets changes over the year.",
     ("Because Earth is tilted, each half gets more or less direct sunlight through the year.",
      "The tilt of the Earth's axis changes how much sunlight each hemisphere receives."),
     ("Because the Moon blocks the Sun in winter.", "Because the Sun switches off at night.")),
    ("Which animal is called the king of the jungle?", "The lion.",
     ("The lion.", "Lions are."), ("The elephant.", "The mouse.")),
]


def open_pairs(n: int, seed: int) -> list[dict[str, object]]:
    """``n`` distinct labelled pairs of open-ended answers (out of the demo judge's domain)."""
    rng = random.Random(seed)
    seen: set[tuple[str, str, str]] = set()
    rows: list[dict[str, object]] = []
    while len(rows) < n:
        question, reference, good, bad = rng.choice(OPEN_QUESTIONS)
        case = rng.random()
        if case < 0.35:
            a, b, label = rng.choice(good), rng.choice(bad), "A"
        elif case < 0.7:
            a, b, label = rng.choice(bad), rng.choice(good), "B"
        else:
            a, b = rng.sample(good if case < 0.85 else bad, 2)
            label = "tie"
        if (question, a, b) in seen:
            continue
        seen.add((question, a, b))
        rows.append({"question": question, "answer_a": a, "answer_b": b,
                     "reference": reference, "label": label})
    return rows


def model_answers(n: int, seed: int) -> tuple[list[dict], list[dict]]:
    """The same ``n`` questions answered by model A (right about half the time) and model B
    (right about 85% of the time)."""
    rng = random.Random(seed)
    rows_a, rows_b = [], []
    for i in range(1, n + 1):
        fact = make_fact(rng)
        for rows, model, p_right in ((rows_a, "model-a", 0.5), (rows_b, "model-b", 0.85)):
            text, _ = answer(rng, fact, rng.random() < p_right)
            rows.append({"id": f"q{i}", "question": fact.question, "answer": text,
                         "reference": fact.reference, "model": model})
    return rows_a, rows_b


def build() -> dict[str, list[dict]]:
    """Every example file's rows, by file name."""
    rows_a, rows_b = model_answers(60, seed=99)
    pairs = [{"id": f"p{i}", **{k: r[k] for k in PAIR_FIELDS[1:]}}
             for i, r in enumerate(make_pairs(50, seed=2024), 1)]
    inside = [{**{k: r[k] for k in PAIR_FIELDS[1:]}, "domain": "in"}
              for r in make_pairs(100, seed=7)]
    outside = [{**r, "domain": "out"} for r in open_pairs(100, seed=7)]
    labelled = inside + outside
    random.Random(7).shuffle(labelled)
    return {"model_a.jsonl": rows_a, "model_b.jsonl": rows_b, "pairs.jsonl": pairs,
            "labelled.jsonl": [{"id": f"l{i}", **r} for i, r in enumerate(labelled, 1)]}


def dumps(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main() -> None:
    for name, rows in build().items():
        (HERE / name).write_text(dumps(rows), encoding="utf-8")
        print(f"wrote {HERE / name} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
