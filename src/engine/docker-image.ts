import type Docker from "dockerode";
import type { Logger } from "../log/logger.js";
import { dockerUnreachableError, errorStatus } from "./docker-errors.js";
import { EngineStartError } from "./engine-driver.js";

export const DEFAULT_PULL_TIMEOUT_MS = 30 * 60_000;

/** One event of the pull progress stream (Docker's JSON-lines format). */
interface PullEvent {
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** Makes sure `image` is present, pulling it when it is not. Throws EngineStartError naming the image and the fix. */
export async function ensureImage(
  docker: Docker,
  image: string,
  logger: Logger,
  pullTimeoutMs = DEFAULT_PULL_TIMEOUT_MS,
): Promise<void> {
  try {
    await docker.getImage(image).inspect();
    return;
  } catch (err) {
    if (errorStatus(err) !== 404) throw dockerUnreachableError(docker, err);
  }
  logger.info("engine image not present: pulling it");
  const started = Date.now();
  try {
    await pullImage(docker, image, logger, pullTimeoutMs);
  } catch (err) {
    throw imageUnavailable(image, err instanceof Error ? err.message : String(err), err);
  }
  // A registry can end a stream without an error and still not deliver the image.
  try {
    await docker.getImage(image).inspect();
  } catch (err) {
    throw imageUnavailable(image, "the pull finished but the image is still not present", err);
  }
  logger.info({ seconds: Math.round((Date.now() - started) / 1000) }, "engine image pulled");
}

function imageUnavailable(image: string, reason: string, cause: unknown): EngineStartError {
  const local = image.startsWith("localhost/");
  const hint = local
    ? image.startsWith("localhost/llm-runner-sim")
      ? "localhost/ images are built on this machine: build it with `npm run engine:sim-image`."
      : `localhost/ images are built on this machine: build ${image} (docker build / podman build), or set ENGINE_IMAGE to an image you have.`
    : `Check the name and tag in ENGINE_IMAGE, that this machine can reach the registry (docker login for private ones), or fetch it by hand with \`docker pull ${image}\`.`;
  return new EngineStartError(
    `Engine image ${image} is not on this machine and could not be pulled: ${reason}`,
    hint,
    {
      cause,
    },
  );
}

/** Pulls the image, logging progress; rejects on an error event in the stream, a stream error, or the time bound. */
async function pullImage(docker: Docker, image: string, logger: Logger, timeoutMs: number): Promise<void> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`no complete pull within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
  });
  try {
    await Promise.race([timeout, pullStream(docker, image, logger, abort.signal)]);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

async function pullStream(docker: Docker, image: string, logger: Logger, signal: AbortSignal): Promise<void> {
  const stream: NodeJS.ReadableStream = await docker.pull(image, { abortSignal: signal });
  await new Promise<void>((resolve, reject) => {
    let pending = "";
    let failure: string | null = null;
    let lastInfo = 0;
    const onEvent = (event: PullEvent) => {
      // Docker and Podman report a failed pull inside the stream, with HTTP 200, not as an HTTP error.
      if (event.error || event.errorDetail) {
        failure = event.errorDetail?.message ?? event.error ?? "unknown pull error";
        return;
      }
      logger.debug({ ...event }, "pull progress");
      const now = Date.now();
      if (now - lastInfo > 5_000 && event.status) {
        lastInfo = now;
        logger.info({ status: event.status, layer: event.id, progress: event.progress }, "pulling image");
      }
    };
    const onLine = (line: string) => {
      if (line.trim() === "") return;
      try {
        onEvent(JSON.parse(line) as PullEvent);
      } catch {
        logger.debug({ line }, "pull output that is not JSON");
      }
    };
    stream.on("data", (chunk: Buffer | string) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    });
    stream.once("error", (err: Error) => reject(new Error(failure ?? err.message)));
    stream.once("end", () => {
      onLine(pending);
      if (failure !== null) reject(new Error(failure));
      else resolve();
    });
    // Closed without "end": the connection dropped (or the pull was aborted by the time bound).
    stream.once("close", () => reject(new Error(failure ?? "the pull stream closed before it completed")));
  });
}
