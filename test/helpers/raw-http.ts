import { connect } from "node:net";

/**
 * Writes `data` as-is on a fresh TCP connection (for requests no HTTP client would send) and returns what came
 * back: once `complete(soFar)` says the answer is whole (plus `settleMs` for stragglers), when the server
 * closes, or after 3 s.
 */
export function rawHttp(
  port: number,
  data: string,
  complete: (soFar: string) => boolean,
  settleMs = 50,
): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let out = "";
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, 3_000);
    socket.on("connect", () => socket.write(data));
    socket.on("data", (d) => {
      out += d.toString();
      if (complete(out)) setTimeout(done, settleMs);
    });
    socket.on("error", done);
    socket.on("close", done);
  });
}
