"""A deterministic stand-in tokenizer: a token is a word or one punctuation mark, with the spaces before it.

Joining the tokens gives back the text (minus trailing blanks), so streamed deltas concatenate to the reply, and one
count serves prompt_tokens, completion_tokens, max_tokens truncation, the max-model-len check and /tokenize.
"""

from __future__ import annotations

import re
import zlib

_TOKEN = re.compile(r"\s*(?:\w+|[^\w\s])", re.UNICODE)

# Tokens a chat template adds: a header per message and the assistant header that opens the reply.
TOKENS_PER_MESSAGE = 4
TOKENS_REPLY_PRIMER = 3
VOCAB_SIZE = 128_000


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def count(text: str) -> int:
    return len(_TOKEN.findall(text))


def chat_prompt_tokens(texts: list[str]) -> int:
    """Prompt length of a chat: its messages plus the template's tokens around them."""
    return sum(count(t) for t in texts) + TOKENS_PER_MESSAGE * len(texts) + TOKENS_REPLY_PRIMER


def token_id(token: str) -> int:
    """A stable id for a token, for /tokenize (the same text always gives the same id)."""
    return zlib.crc32(token.strip().encode("utf-8")) % VOCAB_SIZE
