"""The engine's Prometheus series under vLLM's names (label model_name), kept as plain numbers and rendered on demand."""

from __future__ import annotations

from bisect import bisect_left

# Bucket bounds of vLLM's own histograms (vllm/v1/metrics/loggers.py).
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
                40.0, 80.0, 160.0, 640.0, 2560.0)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
               80.0)
REQUEST_LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
                           240.0, 480.0, 960.0, 1920.0, 7680.0)
FINISHED_REASONS = ("stop", "length", "abort")
SLEEP_STATES = ("awake", "weights_offloaded", "discard_all")


class Histogram:
    __slots__ = ("bounds", "counts", "sum", "count")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def observe_many(self, value: float, times: int) -> None:
        """The same value several times (one step's inter-token latency for every sequence in the batch)."""
        self.counts[bisect_left(self.bounds, value)] += times
        self.sum += value * times
        self.count += times


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class EngineMetrics:
    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.prefix_queries = 0  # prompt tokens looked up in the prefix cache
        self.prefix_hits = 0  # of those, tokens found cached
        self.success = dict.fromkeys(FINISHED_REASONS, 0)
        self.ttft = Histogram(TTFT_BUCKETS)
        self.itl = Histogram(ITL_BUCKETS)
        self.e2e = Histogram(REQUEST_LATENCY_BUCKETS)
        self.queue = Histogram(REQUEST_LATENCY_BUCKETS)
        self.sleep_state = (0, 0)  # (asleep, level) as AsyncLLM last recorded it (sleep.py)

    def sleep_gauges(self) -> dict[str, int]:
        """vLLM's PrometheusStatLogger.record_sleep_state: awake unless asleep; weights_offloaded at level 1,
        discard_all at level 2 (another level sets neither)."""
        asleep, level = self.sleep_state
        return {"awake": 0 if asleep else 1, "weights_offloaded": int(bool(asleep) and level == 1),
                "discard_all": int(bool(asleep) and level == 2)}

    def render(self, running: int, waiting: int, kv_usage: float) -> str:
        lbl = f'model_name="{_label(self.model_name)}"'
        out: list[str] = []

        def scalar(name: str, kind: str, help_text: str, value: float, extra: str = "") -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            out.append(f"{name}{{{extra}{lbl}}} {float(value)!r}")

        def histogram(name: str, help_text: str, h: Histogram) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} histogram")
            cumulative = 0
            for bound, n in zip(h.bounds, h.counts):
                cumulative += n
                out.append(f'{name}_bucket{{le="{bound!r}",{lbl}}} {float(cumulative)!r}')
            out.append(f'{name}_bucket{{le="+Inf",{lbl}}} {float(h.count)!r}')
            out.append(f"{name}_count{{{lbl}}} {float(h.count)!r}")
            out.append(f"{name}_sum{{{lbl}}} {float(h.sum)!r}")

        scalar("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.", running)
        scalar("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", waiting)
        scalar("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", kv_usage)
        out.append("# HELP vllm:engine_sleep_state Engine sleep state; awake = 0 means engine is sleeping; awake = 1 "
                   "means engine is awake; weights_offloaded = 1 means sleep level 1; discard_all = 1 means sleep "
                   "level 2.")
        out.append("# TYPE vllm:engine_sleep_state gauge")
        for state, value in self.sleep_gauges().items():
            out.append(f'vllm:engine_sleep_state{{sleep_state="{state}",{lbl}}} {float(value)!r}')
        # vLLM declares these Counters without _total; prometheus_client adds it when it exposes them.
        scalar("vllm:prefix_cache_queries_total", "counter",
               "Prefix cache queries, in terms of number of queried tokens.", self.prefix_queries)
        scalar("vllm:prefix_cache_hits_total", "counter", "Prefix cache hits, in terms of number of cached tokens.",
               self.prefix_hits)
        scalar("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", self.prompt_tokens)
        scalar("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.",
               self.generation_tokens)
        out.append("# HELP vllm:request_success_total Count of successfully processed requests.")
        out.append("# TYPE vllm:request_success_total counter")
        for reason in FINISHED_REASONS:
            out.append(f'vllm:request_success_total{{finished_reason="{reason}",{lbl}}} '
                       f"{float(self.success[reason])!r}")
        histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", self.ttft)
        histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", self.itl)
        histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", self.e2e)
        histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.",
                  self.queue)
        return "\n".join(out) + "\n"
