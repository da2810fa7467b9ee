"""The text the simulator answers with: the last user message (echo) or seeded lorem ipsum; same input, same text."""

from __future__ import annotations

import random

_WORDS = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore "
    "magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo "
    "consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint "
    "occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum"
).split()

# A lorem reply "ends on its own" (finish_reason stop) after this many words, unless max_tokens cuts it first.
NATURAL_WORDS = (12, 120)


def lorem(seed: int | str, words: int | None = None) -> str:
    """Sentences of lorem ipsum; words=None draws a natural length from the seed."""
    rng = random.Random(str(seed))
    total = rng.randint(*NATURAL_WORDS) if words is None else words
    parts: list[str] = []
    sentence = 0
    for _ in range(total):
        word = rng.choice(_WORDS)
        parts.append(word.capitalize() if sentence == 0 else word)
        sentence += 1
        if sentence >= 6 and rng.random() < 0.2:
            mark = rng.choice((".", ".", ",", "!", "?"))
            parts[-1] += mark
            if mark != ",":
                sentence = 0
    text = " ".join(parts)
    return text if text.endswith((".", "!", "?")) or not text else text + "."
