"""vLLM's prefix cache as the simulator keeps it: block hashes chained over full blocks, and a pool of KV blocks that
keeps freed blocks cached until they are reused, least recently freed first.

Read from vLLM's V1 sources (vllm-project/vllm index snapshots, 2026; the v0.33.0 tag itself was not reachable here):
* vllm/v1/core/kv_cache_utils.py (@ 001cabc1): hash_block_tokens and the request block hasher: only full blocks of
  block_size tokens are hashed, each hash covers its parent block's hash and its own token ids, so a hash names the
  whole prefix up to the end of its block. FreeKVCacheBlockQueue: never-used blocks in id order first, then freed
  blocks in the order they were freed (a request frees its blocks tail first), the head reused first.
* vllm/v1/core/block_pool.py (@ 002f3491): a cached block stays in the hash map while it sits in the free queue and
  is dropped from it only when the queue hands it out again; a hit on a free cached block takes it out of the queue
  (touch); get_usage = 1 - free blocks / all blocks, so cached free blocks count as free.
* vllm/v1/core/kv_cache_manager.py (@ 003df296): get_computed_blocks: the longest run of cached blocks from the
  start, at most num_tokens - 1 tokens (the last prompt token is always computed, for its logits), and nothing when
  caching is off; record_prefix_cache_stats counts queries (prompt tokens) and hits (cached tokens) per request.
* block_pool.py reset_prefix_cache (2026 snapshots): fails while any block is in use, else drops every cached hash
  and logs "Successfully reset prefix cache"; vLLM calls it when the engine sleeps (sleep.py).

The simulator keeps counts and hashes, not block ids: a run of freed blocks without a hash is one queue entry, and a
block whose hash another request cached first stays unhashed (vLLM keeps both copies under one hash).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

ROOT = 0  # the parent of a prompt's first block (vLLM's NONE_HASH)


def block_keys(tokens: Sequence[object], block_size: int, start: int = 0, parent: int = ROOT) -> list[int]:
    """The hash of each full block of tokens from block `start` on, each one chained on the one before."""
    keys: list[int] = []
    end = len(tokens) - block_size
    for i in range(start * block_size, end + 1, block_size):
        parent = hash((parent, tuple(tokens[i : i + block_size])))
        keys.append(parent)
    return keys


class BlockPool:
    """num_blocks KV blocks. `free` counts the blocks no running request holds, cached ones included."""

    __slots__ = ("num_blocks", "fresh", "free", "queue", "refs", "evicted")

    def __init__(self, num_blocks: int) -> None:
        self.num_blocks = num_blocks
        self.fresh = num_blocks  # never handed out: the head of vLLM's free queue
        self.free = num_blocks
        # Freed blocks, least recently freed first: a cached block's hash -> 1, or an anonymous run -> its length.
        self.queue: OrderedDict[object, int] = OrderedDict()
        self.refs: dict[int, int] = {}  # cached block hash -> requests holding it (0: free, still cached)
        self.evicted = 0

    @property
    def usage(self) -> float:
        return 1.0 - self.free / self.num_blocks

    def hits(self, keys: Sequence[int], limit: int) -> int:
        """How many of the first `limit` blocks of keys are cached, counted from the first block."""
        refs = self.refs
        limit = min(limit, len(keys))
        n = 0
        while n < limit and keys[n] in refs:
            n += 1
        return n

    def available_after_touch(self, keys: Sequence[int]) -> int:
        """Free blocks left once these cached blocks are taken out of the free queue."""
        refs = self.refs
        return self.free - sum(1 for k in keys if refs[k] == 0)

    def touch(self, keys: Sequence[int]) -> None:
        refs = self.refs
        for k in keys:
            r = refs[k]
            if r == 0:
                del self.queue[k]
                self.free -= 1
            refs[k] = r + 1

    def take(self, n: int) -> None:
        """Hands out n blocks from the head of the free queue; a cached block handed out loses its hash."""
        self.free -= n
        fresh = min(n, self.fresh)
        self.fresh -= fresh
        n -= fresh
        queue = self.queue
        refs = self.refs
        while n > 0:
            key, count = queue.popitem(last=False)
            if count > n:
                queue[key] = count - n
                queue.move_to_end(key, last=False)
                return
            n -= count
            if key in refs:
                del refs[key]
                self.evicted += 1

    def cache(self, key: int) -> bool:
        """A block the caller holds becomes the cached block for key; False: key is cached already."""
        if key in self.refs:
            return False
        self.refs[key] = 1
        return True

    def reset(self) -> bool:
        """vLLM's BlockPool.reset_prefix_cache: forgets every cached block, refused (False) while any block is held."""
        if self.free != self.num_blocks:
            return False
        self.refs.clear()
        self.queue.clear()
        self.fresh = self.num_blocks
        return True

    def release(self, keys: Sequence[int], anonymous: int) -> None:
        """Frees a request's blocks, tail first: its unhashed blocks, then its cached ones from the last."""
        if anonymous:
            self.queue[object()] = anonymous
            self.free += anonymous
        refs = self.refs
        queue = self.queue
        for k in reversed(keys):
            r = refs[k] - 1
            refs[k] = r
            if r == 0:
                queue[k] = 1
                self.free += 1
