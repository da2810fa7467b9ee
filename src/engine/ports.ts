import { createServer } from "node:net";
import { EngineStartError } from "./engine-driver.js";

/** A port on 127.0.0.1 that was free a moment ago. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Throws EngineStartError naming the variable to change when the port is taken. */
export function assertPortFree(port: number, variable: string, host = "127.0.0.1"): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", (err: NodeJS.ErrnoException) => {
      reject(
        new EngineStartError(
          `port ${port} on ${host} is not available (${err.code ?? err.message})`,
          `stop what uses it, or set ${variable} to another port (0 picks a free one)`,
        ),
      );
    });
    srv.listen(port, host, () => srv.close(() => resolve()));
  });
}
