import { describe, expect, it } from "vitest";
import { PullProgressView } from "./pull-progress.js";

function view(isTTY: boolean) {
  let out = "";
  let t = 1_000_000;
  const v = new PullProgressView({ isTTY, write: (s: string) => (out += s) }, () => t);
  return { v, out: () => out, advance: (ms: number) => (t += ms) };
}

const plan = {
  type: "plan" as const,
  files: [
    { path: "config.json", size: 1_000, cached: true, resumeFrom: 0 },
    { path: "model-00001-of-00002.safetensors", size: 60_000_000, cached: false, resumeFrom: 10_000_000 },
    { path: "model-00002-of-00002.safetensors", size: 40_000_000, cached: false, resumeFrom: 0 },
  ],
  totalBytes: 100_001_000,
  toFetch: 90_000_000,
  free: 500_000_000_000,
};

describe("PullProgressView", () => {
  it("on a terminal redraws one line with bytes of the total, rate, ETA, files done and the files in flight", () => {
    const { v, out, advance } = view(true);
    v.onEvent(plan);
    const shard = (n: number) => `model-0000${n}-of-00002.safetensors`;
    v.onEvent({ type: "file", index: 1, count: 2, path: shard(1), size: 60e6, resumeFrom: 10e6 });
    v.onEvent({ type: "file", index: 2, count: 2, path: shard(2), size: 40e6, resumeFrom: 0 });
    advance(2_000);
    v.onEvent({ type: "bytes", n: 30_000_000 });
    const last = () => out().split("\r\x1b[2K").at(-1) ?? "";
    expect(last()).toMatch(
      /^pulling \[#{8}\.{16}\] {2}33% 30\.0 MB\/90\.0 MB {2}15\.0 MB\/s {2}ETA 4s {2}files 0\/2, now model-00001-of-00002\.safetensors \+1$/,
    );
    v.onEvent({ type: "file-done", index: 1, count: 2, path: shard(1) });
    expect(last()).toMatch(/ {2}files 1\/2, now model-00002-of-00002\.safetensors$/);
    expect(out()).toContain(
      "3 files vLLM loads, 100 MB; 1 already downloaded; 1 resumed; to download: 90.0 MB (500 GB free)",
    );
  });

  it("without a terminal prints plain lines: one per file, one per 10 % of the bytes", () => {
    const { v, out, advance } = view(false);
    v.onEvent(plan);
    v.onEvent({
      type: "file",
      index: 1,
      count: 2,
      path: "model-00001-of-00002.safetensors",
      size: 60e6,
      resumeFrom: 10e6,
    });
    for (let i = 0; i < 9; i++) {
      advance(1_000);
      v.onEvent({ type: "bytes", n: 5_000_000 });
    }
    v.onEvent({ type: "done", commit: "c", snapshotDir: "/cache/snap", fetched: 45_000_000 });
    const lines = out().trimEnd().split("\n");
    expect(out()).not.toContain("\r");
    expect(lines).toContain("file 1/2: model-00001-of-00002.safetensors (60.0 MB, resuming at 10.0 MB)");
    expect(lines.filter((l) => l.startsWith("pulling ["))).toHaveLength(5); // 10 %, 20 %, ... 50 %
    expect(lines.at(-1)).toBe("done: 45.0 MB downloaded; snapshot /cache/snap");
  });

  it("reports a retry on its own line: what failed, at which server, the wait and where it resumes", () => {
    const { v, out } = view(false);
    v.onEvent({
      type: "retry",
      server: { role: "CDN", host: "cdn-lfs.hf.co" },
      what: "m.safetensors",
      problem: "connection lost (other side closed)",
      attempt: 1,
      maxRetries: 5,
      waitMs: 2_000,
      asked: false,
      resumeAt: 123_456,
    });
    v.onEvent({
      type: "retry",
      server: { role: "hub", host: "huggingface.co" },
      what: "the model info of acme/tiny",
      problem: "HTTP 429",
      attempt: 2,
      maxRetries: 5,
      waitMs: 31_000,
      asked: true,
    });
    expect(out()).toBe(
      "m.safetensors: connection lost (other side closed) from the CDN (cdn-lfs.hf.co); retry 1 of 5 in 2s, resuming at 123 kB\n" +
        "the model info of acme/tiny: HTTP 429 from the hub (huggingface.co); retry 2 of 5 in 31s as it asked\n",
    );
  });
});
