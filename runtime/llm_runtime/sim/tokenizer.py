"""A deterministic stand-in tokenizer: a token is a word or one punctuation mark, with the spaces before it.

Joining the tokens gives back the text (minus trailing blanks), so streamed deltas concatenate to the reply, and one
token list serves prompt_tokens, completion_tokens, max_tokens truncation, the max-model-len check, /tokenize and the
prefix cache's block hashes.

A chat prompt is laid out like Llama 3's template: each message is a header (start, role, end of header), its text and
an end-of-turn token; the prompt ends with the assistant's header. So a conversation's next prompt starts with the
previous prompt followed by the previous reply, and the prefix cache can reuse both.
"""

from __future__ import annotations

import re
import zlib

_TOKEN = re.compile(r"\s*(?:\w+|[^\w\s])", re.UNICODE)

VOCAB_SIZE = 128_000
# The chat template's special tokens (Llama 3's ids, for /tokenize): 4 around each message, 3 opening the reply. No
# text tokenizes to these strings.
START_HEADER, END_HEADER, END_OF_TURN = "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"
SPECIAL_IDS = {START_HEADER: 128006, END_HEADER: 128007, END_OF_TURN: 128009}


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def count(text: str) -> int:
    return len(_TOKEN.findall(text))


def chat_prompt(messages: list[tuple[str, str]]) -> list[str]:
    """The tokens of a chat prompt: each (role, text) message in the template, then the assistant's header."""
    out: list[str] = []
    for role, text in messages:
        out += (START_HEADER, role, END_HEADER)
        out += _TOKEN.findall(text)
        out.append(END_OF_TURN)
    out += (START_HEADER, "assistant", END_HEADER)
    return out


def token_id(token: str) -> int:
    """A stable id for a token, for /tokenize (the same text always gives the same id)."""
    special = SPECIAL_IDS.get(token)
    if special is not None:
        return special
    return zlib.crc32(token.strip().encode("utf-8")) % VOCAB_SIZE
