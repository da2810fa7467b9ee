// reloadReplicas with a fake replica set: what is rolled, added, removed, and what a reload refuses.
import { describe, expect, it } from "vitest";
import type { ConfigSource } from "../config/config-source.js";
import { loadConfig } from "../config/load-config.js";
import { createLogger } from "../log/logger.js";
import type { Replica, ReplicaSet } from "../supervisor/replica-set.js";
import { reloadReplicas } from "./reload.js";

const logger = createLogger({ level: "error" });

function fakeSet() {
  const calls: string[] = [];
  const set = {
    member: () => ({ supervisor: { snapshot: () => ({ generation: 3 }) } }),
    replace: async (r: Replica) => void calls.push(`replace ${r.index}`),
    add: async (r: Replica) => void calls.push(`add ${r.index}`),
    remove: async (i: number) => void calls.push(`remove ${i}`),
  } as unknown as ReplicaSet;
  const made: Array<[number, number | undefined]> = [];
  const makeReplica = async (_c: unknown, slot: { index: number }, generation?: number) => {
    made.push([slot.index, generation]);
    return { index: slot.index } as Replica;
  };
  return { set, calls, made, makeReplica };
}

function source(env: Record<string, string>): ConfigSource {
  return {
    env: { HOME: "/home/op", ENGINE: "sim", DRIVER: "process", ...env },
    overrides: {},
    envFile: null,
    cwd: "/",
  };
}

describe("reloadReplicas", () => {
  it("a changed engine setting rolls every replica in order, generations continued", async () => {
    const f = fakeSet();
    const base = await loadConfig({ env: source({ REPLICAS: "2" }).env });
    if (!base.ok) throw new Error("base config");
    const { outcome } = await reloadReplicas(
      {
        source: source({ REPLICAS: "2", MAX_NUM_SEQS: "64" }),
        replicas: f.set,
        makeReplica: f.makeReplica,
        logger,
      },
      base.config,
    );
    expect(outcome.state).toBe("done");
    expect(f.calls).toEqual(["replace 0", "replace 1"]);
    expect(f.made).toEqual([
      [0, 3],
      [1, 3],
    ]);
  });

  it("REPLICAS 3 → 2 with nothing else changed: replica 2 removed, the others untouched", async () => {
    const f = fakeSet();
    const base = await loadConfig({ env: source({ REPLICAS: "3" }).env });
    if (!base.ok) throw new Error("base config");
    const { outcome } = await reloadReplicas(
      { source: source({ REPLICAS: "2" }), replicas: f.set, makeReplica: f.makeReplica, logger },
      base.config,
    );
    expect(outcome.message).toBe("reloaded: removed 2");
    expect(f.calls).toEqual(["remove 2"]);
  });

  it("invalid or gateway-level changes change nothing and say why; no change restarts nothing", async () => {
    const f = fakeSet();
    const base = await loadConfig({ env: source({}).env });
    if (!base.ok) throw new Error("base config");
    const deps = (env: Record<string, string>) => ({
      source: source(env),
      replicas: f.set,
      makeReplica: f.makeReplica,
      logger,
    });
    const bad = (await reloadReplicas(deps({ MAX_NUM_SEQS: "x" }), base.config)).outcome;
    expect(bad.state).toBe("invalid");
    const port = (await reloadReplicas(deps({ PORT: "9001" }), base.config)).outcome;
    expect(port.state === "invalid" && port.issues[0]?.message).toContain(
      "Stop and start the runner to change PORT",
    );
    const same = (await reloadReplicas(deps({}), base.config)).outcome;
    expect(same.state).toBe("unchanged");
    expect(f.calls).toEqual([]);
  });
});
