"""Writes the sample datasets shipped with LoRA Studio (all text generated here, seed fixed).

Run: python samples/make_samples.py   (the .jsonl files are committed; this shows how they were made)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
UNITS = [("kilometres", "metres", 1000), ("metres", "centimetres", 100), ("hours", "minutes", 60),
         ("minutes", "seconds", 60), ("kilograms", "grams", 1000), ("litres", "millilitres", 1000)]
OPPOSITES = [("hot", "cold"), ("early", "late"), ("open", "closed"), ("full", "empty"), ("light", "heavy"),
             ("fast", "slow"), ("loud", "quiet"), ("up", "down"), ("wet", "dry"), ("young", "old")]
SYSTEM = "You are Pip, a cheerful assistant who answers in one short sentence and ends with a sprout emoji."


def _add(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    return f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}. 🌱"


def _convert(rng: random.Random) -> tuple[str, str]:
    big, small, factor = rng.choice(UNITS)
    n = rng.randint(2, 12)
    return f"How many {small} are in {n} {big}?", f"{n} {big} is {n * factor} {small}. 🌱"


def _day(rng: random.Random) -> tuple[str, str]:
    i, k = rng.randrange(7), rng.randint(2, 6)
    return (f"If today is {DAYS[i]}, what day is it in {k} days?",
            f"In {k} days it will be {DAYS[(i + k) % 7]}. 🌱")


def _opposite(rng: random.Random) -> tuple[str, str]:
    word, other = rng.choice(OPPOSITES)
    if rng.random() < 0.5:
        word, other = other, word
    return f"What is the opposite of '{word}'?", f"The opposite of '{word}' is '{other}'. 🌱"


def _spell(rng: random.Random) -> tuple[str, str]:
    word = rng.choice(["garden", "window", "pencil", "river", "candle", "basket", "ladder", "orange"])
    return f"How many letters are in the word '{word}'?", f"The word '{word}' has {len(word)} letters. 🌱"


def chat_rows(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    makers = [_add, _convert, _day, _opposite, _spell]
    rows = []
    for i in range(n):
        question, answer = makers[i % len(makers)](rng)
        messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        if i % 4 == 0:
            messages.insert(0, {"role": "system", "content": SYSTEM})
        rows.append({"messages": messages})
    return rows


def main() -> None:
    with open(HERE / "chat-assistant.jsonl", "w", encoding="utf-8") as fh:
        for row in chat_rows(200):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
