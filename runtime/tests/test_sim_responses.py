"""The simulator's POST /v1/responses: vLLM's ResponsesResponse JSON and its named event stream."""

from __future__ import annotations

import json
import unittest

from .support import Sim, runtime_env

KEY = "test-secret-key"
AUTH = {"authorization": f"Bearer {KEY}"}


class SimResponsesTest(unittest.TestCase):
    sim: Sim

    @classmethod
    def setUpClass(cls) -> None:
        cls.sim = Sim("--max-model-len", "256", "--max-num-seqs", "8", "--sim-mode", "echo",
                      env=runtime_env({"VLLM_API_KEY": KEY}))

    @classmethod
    def tearDownClass(cls) -> None:
        cls.sim.stop()

    def post(self, body: object, headers: dict[str, str] | None = None) -> tuple[int, object]:
        return self.sim.json("POST", "/v1/responses", body, headers if headers is not None else AUTH)

    def test_json_answer_has_vllms_shape_and_usage(self) -> None:
        status, body = self.post({"model": "test-model", "input": "hello there world", "instructions": "be brief"})
        self.assertEqual(status, 200, body)
        assert isinstance(body, dict)
        self.assertTrue(body["id"].startswith("resp_"))
        self.assertEqual((body["object"], body["status"], body["model"]), ("response", "completed", "test-model"))
        self.assertEqual(body["instructions"], "be brief")
        self.assertIsNone(body["incomplete_details"])
        [item] = body["output"]
        self.assertEqual((item["type"], item["role"], item["status"]), ("message", "assistant", "completed"))
        self.assertTrue(item["id"].startswith("msg_"))
        [part] = item["content"]
        self.assertEqual(part["type"], "output_text")
        self.assertEqual(part["text"], "hello there world")  # echo mode repeats the last user text
        usage = body["usage"]
        self.assertEqual(usage["output_tokens"], 3)
        self.assertGreater(usage["input_tokens"], 0)
        self.assertEqual(usage["total_tokens"], usage["input_tokens"] + usage["output_tokens"])
        self.assertEqual(usage["input_tokens_details"], {"cached_tokens": 0})
        self.assertEqual(usage["output_tokens_details"], {"reasoning_tokens": 0})

    def test_max_output_tokens_makes_it_incomplete(self) -> None:
        status, body = self.post({"input": [{"role": "user", "content": [{"type": "input_text", "text": "a b c d e"}]}],
                                  "max_output_tokens": 2})
        self.assertEqual(status, 200, body)
        assert isinstance(body, dict)
        self.assertEqual(body["status"], "incomplete")
        self.assertEqual(body["incomplete_details"], {"reason": "max_output_tokens"})
        self.assertEqual(body["usage"]["output_tokens"], 2)
        self.assertEqual(body["max_output_tokens"], 2)

    def test_stream_is_named_events_ending_with_completed(self) -> None:
        stream = self.sim.open_stream({"input": "one two three", "stream": True}, path="/v1/responses", headers=AUTH)
        self.assertEqual(stream.status, 200)
        self.assertTrue(stream.headers["content-type"].startswith("text/event-stream"))
        events = stream.events()
        stream.close()
        names = [name for name, _ in events]
        self.assertEqual(names[:4], ["response.created", "response.in_progress", "response.output_item.added",
                                     "response.content_part.added"])
        self.assertEqual(names[-4:], ["response.output_text.done", "response.content_part.done",
                                      "response.output_item.done", "response.completed"])
        self.assertNotIn("[DONE]", [data for _, data in events])
        payloads = [json.loads(data) for _, data in events]
        for name, payload in zip(names, payloads):
            self.assertEqual(payload["type"], name)
        self.assertEqual([p["sequence_number"] for p in payloads], list(range(len(payloads))))
        deltas = "".join(p["delta"] for p in payloads if p["type"] == "response.output_text.delta")
        self.assertEqual(deltas, "one two three")
        created, completed = payloads[0]["response"], payloads[-1]["response"]
        self.assertEqual(created["status"], "in_progress")
        self.assertIsNone(created["usage"])
        self.assertEqual(completed["id"], created["id"])
        self.assertEqual(completed["status"], "completed")
        self.assertEqual(completed["output"][0]["content"][0]["text"], "one two three")
        self.assertEqual(completed["usage"]["output_tokens"], 3)

    def test_bad_requests_get_vllms_errors(self) -> None:
        status, body = self.post({"model": "test-model"})
        self.assertEqual(status, 400)
        assert isinstance(body, dict)
        self.assertEqual(body["error"]["param"], "input")
        status, body = self.post({"input": "x", "model": "other"})
        self.assertEqual(status, 404)
        status, body = self.post({"input": "x", "background": True})
        self.assertEqual(status, 400)
        assert isinstance(body, dict)
        self.assertIn("VLLM_ENABLE_RESPONSES_API_STORE", body["error"]["message"])
        status, body = self.post({"input": "x", "previous_response_id": "resp_nope"})
        self.assertEqual(status, 404)
        status, _ = self.post({"input": "x"}, headers={})
        self.assertEqual(status, 401)


if __name__ == "__main__":
    unittest.main()
