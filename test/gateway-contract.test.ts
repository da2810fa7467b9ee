// The gateway against the real simulator engine over real sockets, checked against the AI-runner's OpenAPI
// contract (test/fixtures/contracts/livepeer-ai-runner.openapi.yaml) with a JSON-schema validator.
import { readFileSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseQueryGpuCsv } from "../src/gpu/query-gpu-csv.js";
import { staticGpuProbe } from "../src/gpu/static-probe.js";
import { type SimEngine, startSimEngine } from "./helpers/sim-engine.js";
import { type RunningGateway, startGatewayOn } from "./helpers/static-supervisor.js";

/** A JSON body, for assertions to read. */
// biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary JSON shapes
async function json(res: Response): Promise<any> {
  return res.json();
}

const contract = parse(
  readFileSync(new URL("./fixtures/contracts/livepeer-ai-runner.openapi.yaml", import.meta.url), "utf8"),
) as { components: { schemas: Record<string, unknown> } };
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addSchema({ $id: "contract", components: contract.components });
const schema = (name: string): ValidateFunction => {
  const validate = ajv.getSchema(`contract#/components/schemas/${name}`);
  if (!validate) throw new Error(`no schema ${name} in the contract`);
  return validate;
};

function expectValid(name: string, value: unknown): void {
  const validate = schema(name);
  const ok = validate(value);
  expect(ok, `${name}: ${JSON.stringify(validate.errors)} for ${JSON.stringify(value)}`).toBe(true);
}

const MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct";
let sim: SimEngine;
let gw: RunningGateway;

beforeAll(async () => {
  sim = await startSimEngine({ modelId: MODEL, maxNumSeqs: 4, args: ["--sim-itl-ms", "2"] });
  const gpus = parseQueryGpuCsv(
    readFileSync(new URL("./fixtures/gpu/h100-query-gpu.csv", import.meta.url), "utf8"),
  );
  gw = await startGatewayOn(sim.endpoint, { modelId: MODEL, gpus: staticGpuProbe(gpus) });
});
afterAll(async () => {
  await gw?.close();
  await sim?.stop();
});

const post = (path: string, body: unknown) =>
  fetch(`${gw.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("the AI-runner contract", () => {
  it("the schemas are really checked: a response without usage is rejected", () => {
    expect(schema("LLMResponse")({ id: "x", model: "m", created: 1, choices: [] })).toBe(false);
    expect(schema("HealthCheck")({ status: "READY" })).toBe(false);
  });

  it("/llm answers a valid LLMResponse with the echo of the prompt", async () => {
    const res = await post("/llm", { messages: [{ role: "user", content: "hello there friend" }] });
    expect(res.status).toBe(200);
    const body = await json(res);
    expectValid("LLMResponse", body);
    expect(body).toMatchObject({
      model: MODEL,
      usage: { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 },
      choices: [
        { index: 0, finish_reason: "stop", message: { role: "assistant", content: "hello there friend" } },
      ],
    });
  });

  it("/llm streams exactly these SSE frames, each chunk a valid LLMResponse, and records the row before [DONE]", async () => {
    const res = await post("/llm", {
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "one two three" },
      ],
      max_tokens: 2,
      stream: true,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const id = res.headers.get("x-request-id");
    const text = await res.text();
    // The ledger row was committed before the final byte left the gateway.
    expect(gw.ledger.rows().find((r) => r.id === id)).toMatchObject({
      status: "ok",
      completionTokens: 2,
      stream: true,
    });
    const frames = text.split("\n\n");
    expect(frames.pop()).toBe("");
    expect(frames.pop()).toBe("data: [DONE]");
    const chunks = frames.map((f) => {
      expect(f.startsWith("data: ")).toBe(true);
      return JSON.parse(f.slice("data: ".length));
    });
    for (const chunk of chunks) expectValid("LLMResponse", chunk);
    const created = chunks[0].created;
    // The prompt is 16 tokens (5 words + 4 per message + 3); the engine reports it on every chunk.
    const chunk = (content: string, finish: string, completion: number, prompt = 16) =>
      JSON.stringify({
        id: `chatcmpl-${id}`,
        model: MODEL,
        created,
        choices: [{ index: 0, delta: { role: "assistant", content }, finish_reason: finish }],
        usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
      });
    expect(frames).toEqual([
      `data: ${chunk("", "", 0)}`,
      `data: ${chunk("one", "", 1)}`,
      `data: ${chunk(" two", "", 2)}`,
      `data: ${chunk("", "length", 2)}`,
    ]);
  });

  it("/llm errors are valid HTTPError bodies with a status the contract declares (400/401/500)", async () => {
    const bad = await post("/llm", { messages: [{ role: "user", content: "x" }], temperature: 9 });
    expect(bad.status).toBe(400);
    const badBody = await json(bad);
    expectValid("HTTPError", badBody);
    expect(badBody.detail.msg).toContain("temperature must be at most 2");
    const wrongModel = await post("/llm", { messages: [{ role: "user", content: "x" }], model: "gpt-4" });
    expect(wrongModel.status).toBe(400);
    expectValid("HTTPError", await json(wrongModel));
    const tooLong = await post("/llm", { messages: [{ role: "user", content: "word ".repeat(9000) }] });
    expect(tooLong.status).toBe(400);
    const body = await json(tooLong);
    expectValid("HTTPError", body);
    expect(body.detail.msg).toMatch(
      /^The prompt is \d+ tokens, which fills the model's context of 8192 tokens/,
    );
  });

  it("/health, /version, /hardware/info and /hardware/stats validate", async () => {
    const health = await json(await fetch(`${gw.url}/health`));
    expectValid("HealthCheck", health);
    expect(health).toEqual({ status: "IDLE" });
    const version = await json(await fetch(`${gw.url}/version`));
    expectValid("Version", version);
    expect(version).toMatchObject({ pipeline: "llm", model_id: MODEL });
    const info = await json(await fetch(`${gw.url}/hardware/info`));
    expectValid("HardwareInformation", info);
    expect(info.gpu_info["0"]).toEqual({
      id: "GPU-f9bb3aac-f5c0-319c-d84c-9f24c1c67aee",
      name: "NVIDIA H100 80GB HBM3",
      memory_total: 81559 * 1024 * 1024,
      memory_free: 81079 * 1024 * 1024,
      major: 9,
      minor: 0,
    });
    const stats = await json(await fetch(`${gw.url}/hardware/stats`));
    expectValid("HardwareStats", stats);
    expect(Object.keys(stats.gpu_stats)).toEqual(["0"]);
  });

  it("/metrics carries our series and the engine's vllm:* series", async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/^llm_runner_requests_total\{route="\/llm",outcome="ok"\} \d+$/m);
    expect(text).toMatch(/^llm_runner_usage_revenue_total\{route="\/llm",currency="USD"\} [0-9.e-]+$/m);
    expect(text).toMatch(
      /^vllm:num_requests_running\{model_name="meta-llama\/Meta-Llama-3.1-8B-Instruct"\} 0(\.0)?$/m,
    );
    expect(text).not.toMatch(/^python_/m);
  });
});
