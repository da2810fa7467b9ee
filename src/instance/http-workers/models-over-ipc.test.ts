// GATEWAY_WORKERS > 1 with several models (LLM_RUNNER_MODELS_FILE): what a worker is given (each model's config,
// plain JSON), what the view carries (each model's engines and figures), and admission per model over the channel:
// a slot request names its model, the primary acquires from that model's admission (its gate wakes a sleeping
// model), and a wake that times out comes back as the same 503 + Retry-After as in-process.
import { describe, expect, it } from "vitest";
import type { Config } from "../../config/types.js";
import { Admission, type AdmittedRequest } from "../../gateway/exchange/admission.js";
import { GatewayError } from "../../gateway/http/gateway-error.js";
import { gatewayTestConfig, StaticSupervisor } from "../../gateway/testing/static-supervisor.js";
import { WakeTimeout } from "../../supervisor/model-set.js";
import type { RequestTicket } from "../../supervisor/types.js";
import { AdmissionHost, slotRequests } from "./admission-host.js";
import { enginesView } from "./engines-view.js";
import { dispatch, type EnginesView, type SlotReply, type SlotRequest, type WorkerInit } from "./messages.js";
import { RemoteAdmission, slotReplies } from "./remote-admission.js";
import { RemoteReplicas } from "./remote-replicas.js";
import { workerInit } from "./worker-pool.js";

const endpoint = (port: number) => ({ baseUrl: `http://127.0.0.1:${port}`, apiKey: "k", generation: 1 });

/** A model whose wake does not finish within MODEL_WAKE_TIMEOUT (ModelGate.acquire's WakeTimeout). */
class SleepyModel extends StaticSupervisor {
  acquire(): Promise<RequestTicket | null> {
    return Promise.reject(new WakeTimeout("gamma", 60_000, 2));
  }
}

/** One worker and the primary, over JSON as over the IPC pipe; models alpha (2 slots), beta (1 slot), gamma. */
function cluster() {
  const supervisors = [
    new StaticSupervisor(endpoint(1), "alpha"),
    new StaticSupervisor(endpoint(2), "beta"),
    new SleepyModel(endpoint(3), "gamma"),
  ];
  const admissions = supervisors.map((s, i) => new Admission(s, i === 0 ? 2 : 1, 0));
  const sent: SlotRequest[] = [];
  let remote: RemoteAdmission | null = null;
  const host = new AdmissionHost(
    admissions[0] as Admission,
    (_worker, message: SlotReply) =>
      dispatch(slotReplies(remote as RemoteAdmission), JSON.parse(JSON.stringify(message))),
    admissions,
  );
  remote = new RemoteAdmission(
    () => ({ inFlight: 0, queueDepth: 0, capacity: 4 }),
    (message) => {
      sent.push(message);
      dispatch(slotRequests(host, 1), JSON.parse(JSON.stringify(message)));
    },
  );
  const figures = { inFlight: 0, queueDepth: 0, capacity: 1 };
  const ports = [0, 1, 2, 7].map((i) => (remote as RemoteAdmission).forModel(i, () => figures));
  return { supervisors, admissions, host, remote, ports, sent };
}

const settle = () => new Promise((r) => setImmediate(r));

async function refusal(p: Promise<unknown>): Promise<GatewayError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  return err as GatewayError;
}

describe("slot requests per model", () => {
  it("name the model by index; one model's message is as it always was", async () => {
    const c = cluster();
    const one = await c.remote.acquire(undefined, { affinity: "k" });
    const beta = await (c.ports[1] as RemoteAdmission).acquire(undefined, { affinity: "k" });
    expect(c.sent[0]).toEqual({ type: "slot-request", id: 1, key: "k" });
    expect(Object.keys(c.sent[0] as object)).not.toContain("model");
    expect(c.sent[1]).toEqual({ type: "slot-request", id: 2, key: "k", model: 1 });
    one.release();
    beta.release();
  });

  it("are granted by that model's admission, on its engine; each model's slots are its own", async () => {
    const c = cluster();
    const [alpha, beta] = c.ports as [RemoteAdmission, RemoteAdmission];
    const a1 = await alpha.acquire();
    const b1 = await beta.acquire();
    expect(a1.ticket.endpoint.baseUrl).toBe("http://127.0.0.1:1");
    expect(b1.ticket.endpoint.baseUrl).toBe("http://127.0.0.1:2");
    expect(c.supervisors.map((s) => s.inFlight)).toEqual([1, 1, 0]);
    // beta (MAX_NUM_SEQS 1, no queue) is full: its next request is refused, alpha's still has room.
    expect((await refusal(beta.acquire())).status).toBe(429);
    const a2 = await alpha.acquire();
    expect(c.admissions.map((a) => a.inFlight)).toEqual([2, 1, 0]);
    for (const r of [a1, a2, b1]) r.release();
    await settle();
    expect(c.supervisors.map((s) => s.inFlight)).toEqual([0, 0, 0]);
    expect(c.admissions.map((a) => a.inFlight)).toEqual([0, 0, 0]);
  });

  it("a wake past MODEL_WAKE_TIMEOUT comes back as the in-process 503 with Retry-After", async () => {
    const c = cluster();
    const err = await refusal((c.ports[2] as RemoteAdmission).acquire());
    expect(err.status).toBe(503);
    expect(err.retryAfter).toBe(2);
    expect(err.message).toContain("The model gamma is waking up");
    // The same refusal as the gateway in this process gets from that model's admission.
    const local = await refusal(c.admissions[2]?.acquire() as Promise<AdmittedRequest>);
    expect([local.status, local.code, local.retryAfter]).toEqual([err.status, err.code, err.retryAfter]);
  });

  it("a model the primary does not have is refused, holding nothing", async () => {
    const c = cluster();
    const err = await refusal((c.ports[3] as RemoteAdmission).acquire());
    expect(err.status).toBe(404);
    expect(c.admissions.map((a) => a.inFlight)).toEqual([0, 0, 0]);
  });

  it("a dead worker gives back the slots it held for every model", async () => {
    const c = cluster();
    await (c.ports[0] as RemoteAdmission).acquire();
    await (c.ports[1] as RemoteAdmission).acquire();
    expect(c.supervisors.map((s) => s.inFlight)).toEqual([1, 1, 0]);
    c.host.dropWorker(1);
    expect(c.supervisors.map((s) => s.inFlight)).toEqual([0, 0, 0]);
  });
});

describe("what a worker is given with several models", () => {
  it("each model's config, without the models list (a config that lists itself still goes as JSON)", () => {
    const alpha = gatewayTestConfig({ modelId: "alpha", maxNumSeqs: 4 });
    const beta = gatewayTestConfig({ modelId: "beta", maxNumSeqs: 2 });
    const placement = { kind: "dedicated" as const, gpus: "0" };
    const runner: Config = { ...alpha, modelsFile: "/m.json" };
    runner.models = [
      { id: "alpha", config: runner, placement },
      { id: "beta", config: { ...beta, models: runner.models }, placement },
    ] as unknown as Config["models"];
    const supervisors = [
      new StaticSupervisor(endpoint(1), "alpha"),
      new StaticSupervisor(endpoint(2), "beta"),
    ];
    const models = supervisors.map((s, i) => ({
      config: i === 0 ? runner : ({ ...beta, models: runner.models } as Config),
      supervisor: s,
      admission: new Admission(s, 4, 0),
    }));
    const view = enginesView(
      supervisors[0] as StaticSupervisor,
      models[0]?.admission as Admission,
      undefined,
      models,
    );
    const init = workerInit({ config: runner, ledgerPath: "/l", fakeGpusFile: null, models }, 1, view);
    const wire = JSON.parse(JSON.stringify(init)) as WorkerInit;
    expect(wire.config.models).toBeUndefined();
    expect(wire.models?.map((m) => [m.modelId, m.maxNumSeqs, m.models])).toEqual([
      ["alpha", 4, undefined],
      ["beta", 2, undefined],
    ]);
    expect(wire.view.models).toHaveLength(2);
  });

  it("one model: no models and no figures in the init or the view, as before", () => {
    const s = new StaticSupervisor(endpoint(1));
    const admission = new Admission(s, 4, 0);
    const view = enginesView(s, admission);
    const init = workerInit({ config: gatewayTestConfig(), ledgerPath: "/l", fakeGpusFile: null }, 1, view);
    expect("models" in init).toBe(false);
    expect(Object.keys(view).sort()).toEqual(
      [
        "admission",
        "engineEndpoint",
        "readyEngines",
        "readySlots",
        "replicaEndpoints",
        "replicaSnapshots",
        "snapshot",
      ].sort(),
    );
    expect(new RemoteReplicas(view).models).toBeUndefined();
  });

  it("the view carries each model's engines and admission, and the runner's figures for /metrics", () => {
    const view: EnginesView = JSON.parse(
      JSON.stringify({
        ...enginesView(
          new StaticSupervisor(endpoint(9)),
          new Admission(new StaticSupervisor(endpoint(9)), 1, 0),
        ),
        models: [],
        figures: [
          {
            id: "alpha",
            group: "g",
            state: "asleep",
            lastUsed: null,
            wakes: 1,
            sleeps: 2,
            lastWakeMs: 300,
            wakeSecondsTotal: 0.3,
            active: 0,
          },
        ],
      }),
    );
    const runnerWide = new RemoteReplicas(view);
    expect(runnerWide.models?.().map((m) => [m.id, m.state])).toEqual([["alpha", "asleep"]]);
  });
});
