// How the runtime watches its runner (runtime/llm_runtime/supervisor_watch.py): the drivers set these variables
// in the engine's environment, and the engine stops itself once the runner is gone. A test keeps both sides equal.

/** The runner's pid (process driver): the runtime stops when its parent is no longer this process. */
export const SUPERVISOR_PID_ENV = "LLM_RUNTIME_SUPERVISOR_PID";
/** A file the runner touches every few seconds (docker driver, bind-mounted read-only into the container). */
export const LEASE_FILE_ENV = "LLM_RUNTIME_LEASE_FILE";
/** Seconds without a renewal after which the runtime takes the runner for gone. */
export const LEASE_TIMEOUT_ENV = "LLM_RUNTIME_LEASE_TIMEOUT";
