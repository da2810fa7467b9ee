import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../log/logger.js";
import { ensureImage } from "./docker-image.js";
import { EngineStartError } from "./engine-driver.js";

// A stand-in for the two Docker API calls ensureImage makes; the real engine is exercised in test/docker-driver.test.ts.
function fakeDocker(pull: (signal: AbortSignal) => Promise<PassThrough>, presentAfterPull = true) {
  let pulled = false;
  const notFound = Object.assign(new Error("no such image"), { statusCode: 404 });
  return {
    modem: { socketPath: "/run/test.sock" },
    getImage: () => ({
      inspect: () => (pulled && presentAfterPull ? Promise.resolve({}) : Promise.reject(notFound)),
    }),
    pull: async (_image: string, opts: { abortSignal: AbortSignal }) => {
      const stream = await pull(opts.abortSignal);
      stream.once("end", () => {
        pulled = true;
      });
      return stream;
    },
  } as unknown as Docker;
}

function streamOf(lines: string[]): PassThrough {
  const s = new PassThrough();
  setImmediate(() => {
    for (const line of lines) s.write(`${line}\r\n`);
    s.end();
  });
  return s;
}

describe("ensureImage", () => {
  it("returns at once when the image is present", async () => {
    const docker = {
      getImage: () => ({ inspect: () => Promise.resolve({}) }),
      pull: () => Promise.reject(new Error("must not pull")),
    } as unknown as Docker;
    await expect(ensureImage(docker, "img:1", silentLogger())).resolves.toBeUndefined();
  });

  it("pulls a missing image, reading progress events", async () => {
    const docker = fakeDocker(async () =>
      streamOf(['{"status":"Pulling fs layer","id":"abc"}', '{"status":"Download complete","id":"abc"}']),
    );
    await expect(ensureImage(docker, "img:1", silentLogger())).resolves.toBeUndefined();
  });

  it("fails on an error event inside a stream that otherwise succeeds (HTTP 200)", async () => {
    const docker = fakeDocker(async () =>
      streamOf([
        '{"status":"Trying to pull"}',
        '{"error":"manifest unknown","errorDetail":{"message":"manifest for vllm/vllm-openai:nope not found"}}',
      ]),
    );
    const err = await ensureImage(docker, "vllm/vllm-openai:nope", silentLogger()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineStartError);
    expect((err as EngineStartError).message).toBe(
      "Engine image vllm/vllm-openai:nope is not on this machine and could not be pulled: manifest for vllm/vllm-openai:nope not found",
    );
    expect((err as EngineStartError).hint).toContain("docker pull vllm/vllm-openai:nope");
  });

  it("tells how to build the sim image when it is missing", async () => {
    const docker = fakeDocker(async () => streamOf(['{"error":"connection refused"}']));
    const err = await ensureImage(docker, "localhost/llm-runner-sim:latest", silentLogger()).catch(
      (e: unknown) => e,
    );
    expect((err as EngineStartError).hint).toContain("npm run engine:sim-image");
  });

  it("fails when the pull request itself is refused", async () => {
    const docker = fakeDocker(() =>
      Promise.reject(Object.assign(new Error("HTTP 500: boom"), { statusCode: 500 })),
    );
    await expect(ensureImage(docker, "img:1", silentLogger())).rejects.toThrow(/img:1 .*HTTP 500: boom/);
  });

  it("fails when the stream ends without error but the image is still absent", async () => {
    const docker = fakeDocker(async () => streamOf(['{"status":"done"}']), false);
    await expect(ensureImage(docker, "img:1", silentLogger())).rejects.toThrow(/still not present/);
  });

  it("bounds a pull that never finishes, and aborts its request", async () => {
    let aborted = false;
    const docker = fakeDocker(async (signal) => {
      signal.addEventListener("abort", () => {
        aborted = true;
      });
      const s = new PassThrough();
      s.write('{"status":"Downloading"}\n');
      return s;
    });
    const started = Date.now();
    await expect(ensureImage(docker, "img:1", silentLogger(), 200)).rejects.toThrow(
      /no complete pull within/,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(aborted).toBe(true);
  });

  it("names the Docker API it could not reach", async () => {
    const docker = {
      modem: { socketPath: "/run/none.sock" },
      getImage: () => ({ inspect: () => Promise.reject(new Error("connect ENOENT /run/none.sock")) }),
    } as unknown as Docker;
    const err = await ensureImage(docker, "img:1", silentLogger()).catch((e: unknown) => e);
    expect((err as EngineStartError).message).toBe(
      "Cannot reach the Docker API at unix:///run/none.sock: connect ENOENT /run/none.sock",
    );
    expect((err as EngineStartError).hint).toContain("npm run engine:podman");
  });
});
