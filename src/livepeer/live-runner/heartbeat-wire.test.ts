import { describe, expect, it } from "vitest";
import { BadReply, parseGoDuration, parseHeartbeatReply } from "./heartbeat-wire.js";

describe("parseGoDuration (time.Duration.String())", () => {
  it.each([
    ["5s", 5_000],
    ["20s", 20_000],
    ["1m0s", 60_000],
    ["1h2m3s", 3_723_000],
    ["1.5s", 1_500],
    ["500ms", 500],
    ["0s", 0],
  ])("%s", (text, ms) => expect(parseGoDuration(text)).toBe(ms));

  it.each(["", "5", "5 s", "five", "5x"])("refuses %j", (text) => expect(parseGoDuration(text)).toBeNull());
});

describe("parseHeartbeatReply", () => {
  const reply = {
    runner_id: "runner_x",
    orchestrator: "http://o:8935",
    heartbeat_interval: "5s",
    heartbeat_ttl: "20s",
    heartbeat_secret: "sec",
    o2r: {
      name: "o2r",
      channel_name: "runner_x-abc-o2r",
      url: "http://o:8935/ai/trickle/runner_x-abc-o2r",
      mime_type: "application/json",
    },
    session_ids: ["s1"],
  };

  it("reads go-livepeer's LiveRunnerHeartbeatResponse", () => {
    expect(parseHeartbeatReply(reply, true)).toEqual({
      runnerId: "runner_x",
      orchestrator: "http://o:8935",
      intervalMs: 5_000,
      ttlMs: 20_000,
      heartbeatSecret: "sec",
      o2r: reply.o2r,
      sessionIds: ["s1"],
    });
    // Later heartbeats: no secret, no o2r, session_ids may be null (a nil slice).
    expect(
      parseHeartbeatReply(
        { ...reply, heartbeat_secret: undefined, o2r: undefined, session_ids: null },
        false,
      ),
    ).toMatchObject({
      heartbeatSecret: null,
      o2r: null,
      sessionIds: [],
    });
  });

  it.each([
    [null, "not a JSON object"],
    [[], "not a JSON object"],
    [{ ...reply, runner_id: "" }, "no runner_id"],
    [{ ...reply, heartbeat_interval: "soon" }, "heartbeat_interval"],
    [{ ...reply, heartbeat_ttl: undefined }, "heartbeat_ttl"],
    [{ ...reply, heartbeat_secret: "" }, "no heartbeat_secret"],
    [{ ...reply, session_ids: [1] }, "session_ids"],
  ])("refuses %j", (body, phrase) => {
    expect(() => parseHeartbeatReply(body, true)).toThrow(BadReply);
    expect(() => parseHeartbeatReply(body, true)).toThrow(phrase);
  });
});
