"""Writes the quality benchmark's task files (deterministic: fixed seeds; the .jsonl files are committed).

Run: python bench/tasks/generate.py
Every task: TRAIN rows to fine-tune on, the same prompts as preference pairs, and HELDOUT rows whose prompts
never occur in the training rows.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tasks import HERE

TRAIN, HELDOUT = 240, 32
Example = tuple[str, str, str]  # (prompt, answer, a typical wrong answer)

NAMES = [
    "Maria", "Tom", "Aiko", "Omar", "Lena", "Ravi", "Sofia", "Ben", "Yuki", "Carlos", "Nina", "Felix",
    "Amara", "Igor", "Chloe", "Hugo", "Priya", "Jonas", "Mei", "Pablo", "Zoe", "Kofi", "Elsa", "Arjun",
]  # fmt: skip
ITEMS = ["mug", "lamp", "chair", "book", "kettle", "towel", "plate", "candle", "pillow", "vase", "clock", "basket"]
COLORS = ["red", "blue", "green", "black", "white", "yellow", "grey", "orange"]
CITIES = ["Lyon", "Oslo", "Porto", "Kyoto", "Austin", "Dublin", "Lima", "Cairo", "Perth", "Graz", "Quito", "Riga"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
UNITS = [
    ("kilometres", "metres", 1000),
    ("metres", "centimetres", 100),
    ("hours", "minutes", 60),
    ("minutes", "seconds", 60),
    ("kilograms", "grams", 1000),
    ("days", "hours", 24),
]
OPPOSITES = [
    ("hot", "cold"), ("early", "late"), ("open", "closed"), ("full", "empty"), ("light", "heavy"),
    ("fast", "slow"), ("loud", "quiet"), ("wet", "dry"), ("young", "old"), ("high", "low"),
]  # fmt: skip
WORDS = ["harbor", "anchor", "compass", "island", "sail", "rope", "tide", "lantern", "barrel", "map", "storm", "deck"]
STREETS = ["Elm", "Oak", "Pine", "Maple", "Cedar", "Birch", "Willow", "Ash"]
DESTINATIONS = ["Bern", "Milan", "Ghent", "Turin", "Split", "Brno", "Krakow", "Bath"]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# ---- a strict output format: an order sentence → JSON with fixed keys -----------------------------------------
def order_json(rng: random.Random) -> Example:
    name, item, color, city, n = (
        rng.choice(NAMES),
        rng.choice(ITEMS),
        rng.choice(COLORS),
        rng.choice(CITIES),
        rng.randint(1, 12),
    )
    sentence = rng.choice(
        [
            f"{name} ordered {_plural(n, color + ' ' + item)} for delivery to {city}.",
            f"Please send {_plural(n, color + ' ' + item)} to {name} in {city}.",
            f"Ship to {city}: {n} x {color} {item}, customer {name}.",
            f"{name} from {city} wants {_plural(n, item)} in {color}.",
        ]
    )
    answer = json.dumps({"customer": name, "item": item, "color": color, "quantity": n, "city": city})
    wrong = f"{name} ordered {_plural(n, color + ' ' + item)}, to be delivered to {city}."
    return f"Turn this order into JSON: {sentence}", answer, wrong


# ---- a style or persona: one sentence, "Aye, ... , matey." -------------------------------------------------------
def captain_style(rng: random.Random) -> Example:
    kind = rng.randrange(5)
    if kind == 0:
        a, b = rng.randint(2, 60), rng.randint(2, 60)
        q, fact = f"What is {a} plus {b}?", f"{a} plus {b} makes {a + b}"
    elif kind == 1:
        big, small, factor = rng.choice(UNITS)
        n = rng.randint(2, 9)
        q, fact = f"How many {small} are in {n} {big}?", f"{n} {big} hold {n * factor} {small}"
    elif kind == 2:
        i, k = rng.randrange(7), rng.randint(1, 6)
        q, fact = f"If today is {DAYS[i]}, what day is it in {k} days?", f"in {k} days it will be {DAYS[(i + k) % 7]}"
    elif kind == 3:
        word, other = rng.choice(OPPOSITES)
        if rng.random() < 0.5:
            word, other = other, word
        q, fact = f"What is the opposite of {word}?", f"the opposite of {word} is {other}"
    else:
        word = rng.choice(WORDS)
        q, fact = f"What is the first letter of the word {word}?", f"the word {word} starts with the letter {word[0]}"
    answer = f"Aye, {fact}, matey."
    wrong = f"{fact[0].upper()}{fact[1:]}. I hope this helps!"
    return q, answer, wrong


# ---- short factual QA with exact answers: a note and a question → only the value --------------------------------
def notes_qa(rng: random.Random) -> Example:
    kind = rng.randrange(4)
    if kind == 0:
        a, b = rng.sample(NAMES, 2)
        x, y = rng.sample(range(10, 99), 2)
        note = f"{a}'s locker is number {x} and {b}'s locker is number {y}."
        q, answer, wrong = f"What is {b}'s locker number?", str(y), str(x)
    elif kind == 1:
        dest = rng.choice(DESTINATIONS)
        platform, hour, minute = rng.randint(1, 12), rng.randint(6, 22), rng.choice([0, 10, 15, 20, 30, 40, 45, 50])
        note = f"The train to {dest} leaves from platform {platform} at {hour}:{minute:02d}."
        if rng.random() < 0.5:
            q, answer, wrong = (
                f"From which platform does the train to {dest} leave?",
                str(platform),
                f"{hour}:{minute:02d}",
            )
        else:
            q, answer, wrong = f"At what time does the train to {dest} leave?", f"{hour}:{minute:02d}", str(platform)
    elif kind == 2:
        name, street, age = rng.choice(NAMES), rng.choice(STREETS), rng.randint(19, 80)
        note = f"{name} is {age} years old and lives on {street} Street."
        if rng.random() < 0.5:
            q, answer, wrong = f"On which street does {name} live?", street, str(age)
        else:
            q, answer, wrong = f"How old is {name}?", str(age), street
    else:
        eggs, flour = rng.sample(range(2, 9), 2)
        note = f"The cake needs {eggs} eggs and {flour} cups of flour."
        if rng.random() < 0.5:
            q, answer, wrong = "How many eggs does the cake need?", str(eggs), str(flour)
        else:
            q, answer, wrong = "How many cups of flour does the cake need?", str(flour), str(eggs)
    return f"Note: {note}\nQuestion: {q}", answer, wrong


GENERATORS: dict[str, tuple[Callable[[random.Random], Example], int]] = {
    "order-json": (order_json, 1),
    "captain-style": (captain_style, 2),
    "notes-qa": (notes_qa, 3),
}


def examples(make: Callable[[random.Random], Example], seed: int) -> tuple[list[Example], list[Example]]:
    """TRAIN and HELDOUT examples, every prompt distinct, no held-out prompt among the training ones."""
    rng, seen, out = random.Random(seed), set(), []
    while len(out) < TRAIN + HELDOUT:
        ex = make(rng)
        if ex[0] not in seen:
            seen.add(ex[0])
            out.append(ex)
    return out[:TRAIN], out[TRAIN:]


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def chat(prompt: str, answer: str) -> dict:
    return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]}


def write_all(folder: Path = HERE) -> None:
    for name, (make, seed) in GENERATORS.items():
        train, heldout = examples(make, seed)
        _write(folder / name / "train.jsonl", [chat(p, a) for p, a, _ in train])
        _write(folder / name / "train-pairs.jsonl", [{"prompt": p, "chosen": a, "rejected": w} for p, a, w in train])
        _write(folder / name / "heldout.jsonl", [chat(p, a) for p, a, _ in heldout])
        print(f"{name}: {len(train)} training rows, {len(heldout)} held out")


def main() -> None:
    write_all()


if __name__ == "__main__":
    main()
