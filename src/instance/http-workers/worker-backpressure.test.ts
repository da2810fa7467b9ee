// GATEWAY_WORKERS > 1: a worker's relay holds an engine stream for a slow client; the hang watchdog runs in the
// primary, so the hold must cross the IPC channel with the progress (remote-admission.ts → admission-host.ts).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Admission, type AdmittedRequest } from "../../gateway/exchange/admission.js";
import { StaticSupervisor } from "../../gateway/testing/static-supervisor.js";
import { FakeClock } from "../../supervisor/clock.js";
import { RequestTickets } from "../../supervisor/request-tickets.js";
import type { RequestTicket } from "../../supervisor/types.js";
import { AdmissionHost, slotRequests } from "./admission-host.js";
import { enginesView } from "./engines-view.js";
import { dispatch, type SlotReply, type SlotRequest } from "./messages.js";
import { PROGRESS_FLUSH_MS, RemoteAdmission, slotReplies } from "./remote-admission.js";

const ENDPOINT = { baseUrl: "http://127.0.0.1:1", apiKey: "k", generation: 1 };

/** The primary's tickets are the supervisor's own (request-tickets.ts), so the watchdog's view can be read. */
class TicketSupervisor extends StaticSupervisor {
  readonly clock = new FakeClock();
  readonly tickets = new RequestTickets(this.clock);

  override admit(): RequestTicket | null {
    return this.state === "ready" ? this.tickets.issue(this.endpoint) : null;
  }
}

function primaryAndWorker() {
  const supervisor = new TicketSupervisor(ENDPOINT);
  const admission = new Admission(supervisor, 4, 0);
  const toWorker: SlotReply[] = [];
  const host = new AdmissionHost(admission, (_worker, message) => toWorker.push(message));
  const toHost = slotRequests(host, 1);
  const sent: SlotRequest[] = [];
  const view = enginesView(supervisor, admission);
  const remote = new RemoteAdmission(
    () => view.admission,
    (message) => {
      sent.push(message);
      dispatch(toHost, message);
    },
  );
  const toRemote = slotReplies(remote);
  const admit = async (): Promise<AdmittedRequest> => {
    const pending = remote.acquire();
    await vi.waitFor(() => expect(toWorker.some((m) => m.type === "slot-granted")).toBe(true));
    for (const m of toWorker.splice(0)) dispatch(toRemote, m);
    return pending;
  };
  return { supervisor, remote, sent, admit };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("backpressure across HTTP workers", () => {
  it("a stream a worker holds for its slow client is not waited on by the primary's watchdog, until it is let go", async () => {
    const { supervisor, sent, admit } = primaryAndWorker();
    const request = await admit();
    expect(supervisor.tickets.awaited()).toBe(1);

    request.ticket.backpressure?.(true);
    vi.advanceTimersByTime(PROGRESS_FLUSH_MS);
    expect(sent.filter((m) => m.type === "backpressure")).toEqual([
      { type: "backpressure", held: [1], resumed: [] },
    ]);
    expect(supervisor.tickets.awaited()).toBe(0);
    await supervisor.clock.advance(120_000);
    expect(supervisor.tickets.stalledFor()).toBeNull();

    request.ticket.backpressure?.(false);
    vi.advanceTimersByTime(PROGRESS_FLUSH_MS);
    expect(supervisor.tickets.awaited()).toBe(1);
    expect(supervisor.tickets.stalledFor()).toBe(0);
    request.release();
    expect(supervisor.tickets.size).toBe(0);
  });

  it("sends only the latest hold of each ticket per flush, with its progress, and nothing for a ticket that ended", async () => {
    const { supervisor, sent, admit } = primaryAndWorker();
    const a = await admit();
    const b = await admit();
    a.ticket.backpressure?.(true);
    a.ticket.progress();
    a.ticket.backpressure?.(false);
    b.ticket.backpressure?.(true);
    vi.advanceTimersByTime(PROGRESS_FLUSH_MS);
    expect(sent.slice(-2)).toEqual([
      { type: "progress", ids: [1] },
      { type: "backpressure", held: [2], resumed: [1] },
    ]);
    expect(supervisor.tickets.awaited()).toBe(1);

    a.ticket.backpressure?.(true);
    a.release();
    vi.advanceTimersByTime(PROGRESS_FLUSH_MS);
    expect(sent.at(-1)).toEqual({ type: "slot-release", id: 1 });
    expect(supervisor.tickets.size).toBe(1);
    expect(supervisor.tickets.awaited()).toBe(0);
    b.release();
  });
});
