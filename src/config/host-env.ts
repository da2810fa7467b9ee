// The variables about this machine rather than the engine's tuning: read here and only here, for every command
// (including those that don't load the whole configuration, such as `stop`'s orphan sweep). The tuning variables
// go through env-schema.ts; these are few and need no rules beyond "set or not".

/** This machine's settings for a CLI run. */
export interface HostEnv {
  /** DOCKER_HOST (unix://, tcp://, ssh://); unset = Docker's socket, else Podman's (engine/docker-client.ts). */
  dockerHost: string | undefined;
  /** LLM_RUNNER_DETACHED=1: this `start` is the background child of `start --detach` (set by start itself). */
  detached: boolean;
  /** LLM_RUNNER_FAKE_GPUS=<csv>: a testing aid, nvidia-smi's CSV from a file instead of the GPUs. */
  fakeGpusFile: string | undefined;
}

export const DETACHED_VARIABLE = "LLM_RUNNER_DETACHED";

export function readHostEnv(env: NodeJS.ProcessEnv): HostEnv {
  const set = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  return {
    dockerHost: set("DOCKER_HOST"),
    detached: env[DETACHED_VARIABLE] === "1",
    fakeGpusFile: set("LLM_RUNNER_FAKE_GPUS"),
  };
}
