"""Writes the sample datasets shipped with LoRA Studio (all text generated here, seed fixed).

Run: python lora_studio/assets/samples/make_samples.py   (the .jsonl files are committed; this shows how they were made)
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).parent
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
UNITS = [
    ("kilometres", "metres", 1000),
    ("metres", "centimetres", 100),
    ("hours", "minutes", 60),
    ("minutes", "seconds", 60),
    ("kilograms", "grams", 1000),
    ("litres", "millilitres", 1000),
]
OPPOSITES = [
    ("hot", "cold"),
    ("early", "late"),
    ("open", "closed"),
    ("full", "empty"),
    ("light", "heavy"),
    ("fast", "slow"),
    ("loud", "quiet"),
    ("up", "down"),
    ("wet", "dry"),
    ("young", "old"),
]
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
    return (f"If today is {DAYS[i]}, what day is it in {k} days?", f"In {k} days it will be {DAYS[(i + k) % 7]}. 🌱")


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
    rows: list[dict] = []
    seen: set[str] = set()
    while len(rows) < n:
        question, answer = rng.choice(makers)(rng)  # random maker: small ones saturate, others fill in
        if question in seen:
            continue  # no duplicate rows in a sample
        seen.add(question)
        messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        if len(rows) % 4 == 0:
            messages.insert(0, {"role": "system", "content": SYSTEM})
        rows.append({"messages": messages})
    return rows


UNHELPFUL = [
    "I am not going to work that out for you.",
    "Look it up yourself.",
    "That is a boring question.",
    "Why would you want to know that?",
    "No idea, ask someone else.",
]


def preference_rows(n: int, seed: int = 13) -> list[dict]:
    """Pairs of answers for DPO/ORPO: the chosen one is Pip's (right, short, with the sprout); the rejected one is
    either unhelpful or plainly wrong, so a preference is easy to see and to measure."""
    rng = random.Random(seed)
    makers = [_add, _convert, _day, _opposite, _spell]
    rows: list[dict] = []
    seen: set[str] = set()
    while len(rows) < n:
        question, answer = rng.choice(makers)(rng)
        if question in seen:
            continue
        seen.add(question)
        if rng.random() < 0.5:
            rejected = rng.choice(UNHELPFUL)
        else:  # the right sentence with its number changed, and no sprout
            words = answer.replace(" 🌱", "").split()
            numbers = [i for i, w in enumerate(words) if w.rstrip(".").isdigit()]
            if numbers:
                i = numbers[-1]
                words[i] = str(int(words[i].rstrip(".")) + rng.randint(1, 9)) + ("." if words[i].endswith(".") else "")
                rejected = " ".join(words)
            else:
                rejected = rng.choice(UNHELPFUL)
        rows.append({"prompt": question, "chosen": answer, "rejected": rejected})
    return rows


COLOURS = ["red", "blue", "green", "yellow", "purple", "orange"]
ANIMALS = ["fox", "owl", "otter", "heron", "badger", "lynx"]
PLACES = ["the harbour", "the old mill", "the library", "the station", "the market"]


def _rewrite(rng: random.Random) -> dict:
    animal, colour, place = rng.choice(ANIMALS), rng.choice(COLOURS), rng.choice(PLACES)
    text = f"the {colour} {animal} was seen near {place} yesterday"
    return {
        "instruction": "Rewrite the sentence with a capital letter and a full stop.",
        "input": text,
        "output": text[0].upper() + text[1:] + ".",
    }


def _classify(rng: random.Random) -> dict:
    n = rng.randint(-50, 50)
    label = "positive" if n > 0 else "negative" if n < 0 else "zero"
    return {
        "instruction": "Is the number positive, negative or zero? Answer with one word.",
        "input": str(n),
        "output": label,
    }


def _extract(rng: random.Random) -> dict:
    animal, place = rng.choice(ANIMALS), rng.choice(PLACES)
    hour = rng.randint(7, 19)
    return {
        "instruction": "Extract the time from the note as HH:00.",
        "input": f"Meet the {animal} keeper at {place} at {hour} o'clock.",
        "output": f"{hour:02d}:00",
    }


def _list(rng: random.Random) -> dict:
    picks = rng.sample(COLOURS, 3)
    return {"instruction": f"List three colours, starting with {picks[0]}.", "input": "", "output": ", ".join(picks)}


def instruction_rows(n: int, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    makers = [_rewrite, _classify, _extract, _list]
    rows: list[dict] = []
    seen: set[tuple[str, str]] = set()
    while len(rows) < n:
        row = rng.choice(makers)(rng)
        key = (row["instruction"], row["input"])
        if key not in seen:
            seen.add(key)
            rows.append(row)
    return rows


FAQ = [
    ("How do I reset my password?", "Open Settings, choose Account, then Reset password; a link arrives by e-mail."),
    ("Can I change my delivery address?", "Yes, until the parcel ships: open the order and choose Edit address."),
    ("Where is my invoice?", "Every invoice is under Orders, in the PDF link next to the order number."),
    ("Do you ship abroad?", "We ship to the EU, the UK and Norway; delivery takes 3 to 6 working days."),
    ("How do I cancel my subscription?", "Go to Account, Subscription, Cancel; you keep access until the period ends."),
    ("Is there a student discount?", "Yes: verify your student e-mail under Account and 15% applies at checkout."),
]
OPENERS = ["", "Hi, ", "Hello, ", "Quick question: ", "Sorry to bother you, "]
CLOSERS = ["", " Thanks!"]


def faq_rows(seed: int = 5) -> list[dict]:
    """Every (question, opener, closer) combination once, in a shuffled order."""
    combos = [(q, a, o, c) for q, a in FAQ for o in OPENERS for c in CLOSERS]
    random.Random(seed).shuffle(combos)
    rows = []
    for i, (question, answer, opener, closer) in enumerate(combos):
        asked = opener + (question[0].lower() + question[1:] if opener else question) + closer
        rows.append({"customer_question": asked, "agent_answer": answer, "ticket_id": f"T{1000 + i}"})
    return rows


def main() -> None:
    with (HERE / "chat-assistant.jsonl").open("w", encoding="utf-8") as fh:
        for row in chat_rows(200):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (HERE / "preference-pairs.jsonl").open("w", encoding="utf-8") as fh:
        for row in preference_rows(160):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (HERE / "instructions.jsonl").open("w", encoding="utf-8") as fh:
        for row in instruction_rows(120):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (HERE / "support-faq.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["ticket_id", "customer_question", "agent_answer"])
        writer.writeheader()
        writer.writerows(faq_rows())


if __name__ == "__main__":
    main()
