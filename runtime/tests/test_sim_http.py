"""The simulator's HTTP surface, over real HTTP against a subprocess: every endpoint and the 400/401/404 errors."""

from __future__ import annotations

import json
import socket
import unittest

from .support import Sim, chat, runtime_env

KEY = "test-secret-key"
AUTH = {"authorization": f"Bearer {KEY}"}


class SimHttpTest(unittest.TestCase):
    sim: Sim

    @classmethod
    def setUpClass(cls) -> None:
        cls.sim = Sim("--max-model-len", "64", "--max-num-seqs", "8", "--max-num-batched-tokens", "512",
                      env=runtime_env({"VLLM_API_KEY": KEY}))

    @classmethod
    def tearDownClass(cls) -> None:
        cls.sim.stop()

    def post(self, path: str, body: object, headers: dict[str, str] | None = None) -> tuple[int, object]:
        return self.sim.json("POST", path, body, headers if headers is not None else AUTH)

    # --- open endpoints -------------------------------------------------------------------------------------------

    def test_health_is_open_and_empty(self) -> None:
        status, _, body = self.sim.request("GET", "/health")
        self.assertEqual((status, body), (200, b""))

    def test_version(self) -> None:
        status, body = self.sim.json("GET", "/version")
        self.assertEqual(status, 200)
        self.assertRegex(body["version"], r"^\d+\.\d+\.\d+")

    def test_metrics_is_open_and_prometheus_text(self) -> None:
        status, headers, body = self.sim.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        text = body.decode()
        for name in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
                     "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:request_success_total",
                     "vllm:time_to_first_token_seconds", "vllm:inter_token_latency_seconds",
                     "vllm:e2e_request_latency_seconds", "vllm:request_queue_time_seconds"):
            self.assertIn(f"# TYPE {name} ", text)
        self.assertIn('vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="test-model"}', text)

    def test_unknown_path_and_wrong_method(self) -> None:
        self.assertEqual(self.sim.json("GET", "/nope"), (404, {"detail": "Not Found"}))
        status, headers, _ = self.sim.request("GET", "/v1/chat/completions", headers=AUTH)
        self.assertEqual(status, 405)
        self.assertEqual(headers["allow"], "POST")

    # --- auth -----------------------------------------------------------------------------------------------------

    def test_v1_and_tokenize_need_the_key(self) -> None:
        for method, path, body in (("GET", "/v1/models", None), ("POST", "/v1/chat/completions", chat("hi")),
                                   ("POST", "/v1/completions", {"prompt": "hi"}), ("POST", "/tokenize",
                                                                                   {"prompt": "hi"})):
            for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": KEY}):
                status, payload = self.sim.json(method, path, body, headers)
                self.assertEqual(status, 401, (path, headers))
                self.assertEqual(payload["error"]["message"], "Unauthorized")
                self.assertEqual(payload["error"]["code"], 401)

    def test_models(self) -> None:
        status, body = self.sim.json("GET", "/v1/models", headers=AUTH)
        self.assertEqual(status, 200)
        self.assertEqual(body["object"], "list")
        self.assertEqual([m["id"] for m in body["data"]], ["test-model"])
        self.assertEqual(body["data"][0]["max_model_len"], 64)
        self.assertEqual(body["data"][0]["root"], "sim-model")

    # --- chat -----------------------------------------------------------------------------------------------------

    def test_chat_echoes_the_last_user_message(self) -> None:
        body = {"model": "test-model", "messages": [{"role": "system", "content": "be brief"},
                                                    {"role": "user", "content": "first"},
                                                    {"role": "assistant", "content": "ok"},
                                                    {"role": "user", "content": "Hello, world!"}],
                "temperature": 0.7, "top_p": 0.9, "top_k": 40, "seed": 1}
        status, resp = self.post("/v1/chat/completions", body)
        self.assertEqual(status, 200)
        self.assertTrue(resp["id"].startswith("chatcmpl-"))
        self.assertEqual(resp["object"], "chat.completion")
        self.assertEqual(resp["model"], "test-model")
        choice = resp["choices"][0]
        self.assertEqual(choice["message"], {**choice["message"], "role": "assistant", "content": "Hello, world!"})
        self.assertEqual(choice["finish_reason"], "stop")
        self.assertEqual(resp["usage"]["completion_tokens"], 4)  # Hello , world !
        self.assertEqual(resp["usage"]["total_tokens"], resp["usage"]["prompt_tokens"] + 4)

    def test_max_tokens_truncates_with_finish_reason_length(self) -> None:
        for field in ("max_tokens", "max_completion_tokens"):
            status, resp = self.post("/v1/chat/completions", chat("one two three four five", **{field: 2}))
            self.assertEqual(status, 200)
            self.assertEqual(resp["choices"][0]["message"]["content"], "one two")
            self.assertEqual(resp["choices"][0]["finish_reason"], "length")
            self.assertEqual(resp["usage"]["completion_tokens"], 2)

    def test_stop_string_ends_the_reply(self) -> None:
        status, resp = self.post("/v1/chat/completions", chat("alpha beta gamma delta", stop=["gamma"]))
        self.assertEqual(status, 200)
        self.assertEqual(resp["choices"][0]["message"]["content"], "alpha beta")
        self.assertEqual(resp["choices"][0]["finish_reason"], "stop")

    def test_chat_stream_frames_like_vllm(self) -> None:
        stream = self.sim.open_stream(chat("one two three", max_tokens=2, stream=True,
                                           stream_options={"include_usage": True}), headers=AUTH)
        try:
            self.assertEqual(stream.status, 200)
            self.assertTrue(stream.headers["content-type"].startswith("text/event-stream"))
            frames = stream.frames()
        finally:
            stream.close()
        self.assertEqual(frames[-1], "[DONE]")
        chunks = [json.loads(f) for f in frames[:-1]]
        self.assertEqual(len({c["id"] for c in chunks}), 1)
        self.assertTrue(chunks[0]["id"].startswith("chatcmpl-"))
        self.assertTrue(all(c["object"] == "chat.completion.chunk" for c in chunks))
        self.assertEqual(chunks[0]["choices"][0]["delta"], {"role": "assistant", "content": ""})
        content = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
        self.assertEqual("".join(content), "one two")
        self.assertEqual([c["choices"][0]["finish_reason"] for c in chunks[1:-1]], [None, "length"])
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"], 2)

    def test_stream_without_usage_ends_with_stop(self) -> None:
        stream = self.sim.open_stream(chat("short", stream=True), headers=AUTH)
        try:
            frames = stream.frames()
        finally:
            stream.close()
        chunks = [json.loads(f) for f in frames[:-1]]
        self.assertEqual(frames[-1], "[DONE]")
        self.assertEqual(chunks[-1]["choices"][0]["finish_reason"], "stop")
        self.assertTrue(all("usage" not in c for c in chunks))

    def test_continuous_usage_stats(self) -> None:
        stream = self.sim.open_stream(chat("a b c", stream=True, stream_options={
            "include_usage": True, "continuous_usage_stats": True}), headers=AUTH)
        try:
            chunks = [json.loads(f) for f in stream.frames()[:-1]]
        finally:
            stream.close()
        token_chunks = [c for c in chunks if c["choices"] and "content" in c["choices"][0]["delta"]
                        and c["choices"][0]["delta"].get("role") is None]
        self.assertEqual([c["usage"]["completion_tokens"] for c in token_chunks], [1, 2, 3])

    # --- completions ----------------------------------------------------------------------------------------------

    def test_completions_json_and_stream(self) -> None:
        status, resp = self.post("/v1/completions", {"model": "test-model", "prompt": "The sky is blue",
                                                      "max_tokens": 3})
        self.assertEqual(status, 200)
        self.assertTrue(resp["id"].startswith("cmpl-"))
        self.assertEqual(resp["object"], "text_completion")
        self.assertEqual(resp["choices"][0]["text"], "The sky is")
        self.assertEqual(resp["choices"][0]["finish_reason"], "length")
        self.assertEqual(resp["usage"], {**resp["usage"], "prompt_tokens": 4, "completion_tokens": 3})
        stream = self.sim.open_stream({"prompt": "The sky", "stream": True, "stream_options": {"include_usage": True}},
                                      path="/v1/completions", headers=AUTH)
        try:
            frames = stream.frames()
        finally:
            stream.close()
        chunks = [json.loads(f) for f in frames[:-1]]
        self.assertEqual("".join(c["choices"][0]["text"] for c in chunks[:-1]), "The sky")
        self.assertEqual(chunks[-2]["choices"][0]["finish_reason"], "stop")
        self.assertEqual(chunks[-1]["usage"], {"prompt_tokens": 2, "total_tokens": 4, "completion_tokens": 2})

    def test_token_id_prompt(self) -> None:
        status, resp = self.post("/v1/completions", {"prompt": [1, 2, 3, 4, 5], "max_tokens": 1})
        self.assertEqual(status, 200)
        self.assertEqual(resp["usage"]["prompt_tokens"], 5)

    # --- tokenize -------------------------------------------------------------------------------------------------

    def test_tokenize_counts_like_usage(self) -> None:
        messages = [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "How are you, Sam?"}]
        status, tok = self.post("/tokenize", {"messages": messages})
        self.assertEqual(status, 200)
        self.assertEqual(tok["count"], len(tok["tokens"]))
        self.assertEqual(tok["max_model_len"], 64)
        _, resp = self.post("/v1/chat/completions", {"messages": messages})
        self.assertEqual(resp["usage"]["prompt_tokens"], tok["count"])
        status, tok = self.post("/tokenize", {"prompt": "The sky is blue."})
        self.assertEqual((status, tok["count"]), (200, 5))

    # --- errors ---------------------------------------------------------------------------------------------------

    def assert_bad_request(self, status: int, body: object, fragment: str) -> None:
        self.assertEqual(status, 400, body)
        assert isinstance(body, dict)
        self.assertEqual(set(body["error"]), {"message", "type", "param", "code"})
        self.assertEqual(body["error"]["type"], "BadRequestError")
        self.assertEqual(body["error"]["code"], 400)
        self.assertIn(fragment, body["error"]["message"])

    def test_prompt_longer_than_max_model_len(self) -> None:
        status, body = self.post("/v1/chat/completions", chat("word " * 80))
        self.assert_bad_request(status, body, "This model's maximum context length is 64 tokens. However, your "
                                              "request has 87 input tokens.")
        self.assertIsNone(body["error"]["param"])

    def test_prompt_plus_max_tokens_over_max_model_len(self) -> None:
        status, body = self.post("/v1/chat/completions", chat("hello", max_tokens=60))
        self.assert_bad_request(status, body, "This model's maximum context length is 64 tokens. However, you "
                                              "requested 68 tokens (8 in the messages, 60 in the completion).")

    def test_invalid_bodies(self) -> None:
        status, _, raw = self.sim.request("POST", "/v1/chat/completions", b"{not json", AUTH)
        self.assert_bad_request(status, json.loads(raw), "not valid JSON")
        cases = [
            ([1, 2], "JSON object"),
            ({"messages": []}, "messages"),
            ({"messages": "hi"}, "messages"),
            ({"messages": [{"content": "no role"}]}, "role"),
            (chat("x", max_tokens=0), "max_tokens must be at least 1"),
            (chat("x", max_tokens="ten"), "max_tokens"),
            (chat("x", temperature=-1), "temperature"),
            (chat("x", top_p=0), "top_p"),
            (chat("x", top_k=-5), "top_k"),
            (chat("x", n=2), "n must be 1"),
            (chat("x", stream="yes"), "stream"),
            (chat("x", stream_options={"include_usage": True}), "stream=True"),
            (chat("x", stop=[1]), "stop"),
        ]
        for body, fragment in cases:
            with self.subTest(body=body):
                status, resp = self.post("/v1/chat/completions", body)
                self.assert_bad_request(status, resp, fragment)
        status, resp = self.post("/v1/completions", {"prompt": {"x": 1}})
        self.assert_bad_request(status, resp, "prompt")

    def test_unknown_model_is_404(self) -> None:
        status, body = self.post("/v1/chat/completions", {**chat("x"), "model": "other"})
        self.assertEqual(status, 404)
        self.assertEqual(body["error"]["message"], "The model `other` does not exist.")

    # --- HTTP/1.1 -------------------------------------------------------------------------------------------------

    def test_keep_alive_pipelining_and_chunked_request_body(self) -> None:
        body = json.dumps(chat("ping pong", max_tokens=1)).encode()
        one = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer " + KEY.encode() +
               b"\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        chunked = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer " + KEY.encode() +
                   b"\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
                   % (len(body), body))
        with socket.create_connection(("127.0.0.1", self.sim.port), timeout=10) as sock:
            sock.sendall(one + one + chunked)  # three requests in one write
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 3)
        self.assertEqual(data.count(b'"content":"ping"'), 3)

    def test_lorem_mode_is_deterministic_per_seed(self) -> None:
        with Sim("--sim-mode", "lorem") as sim:
            replies = [sim.json("POST", "/v1/chat/completions", chat("tell me", seed=s))[1] for s in (7, 7, 8)]
        texts = [r["choices"][0]["message"]["content"] for r in replies]
        self.assertEqual(texts[0], texts[1])
        self.assertNotEqual(texts[0], texts[2])
        self.assertGreater(len(texts[0].split()), 5)


if __name__ == "__main__":
    unittest.main()
