// A minimal HTTP forward proxy on 127.0.0.1 (absolute-form requests and CONNECT tunnels), recording where
// each request went, to check that a client honours HTTP(S)_PROXY. `hosts` plays DNS for made-up public names
// ("hub.example.com:80" -> "127.0.0.1:PORT"), so a test can give the client a hub that is not on loopback.
import { createServer, request, type Server } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";

export class ForwardProxy {
  readonly seen: string[] = []; // "GET http://host/path" or "CONNECT host:port"
  private server: Server;
  private sockets = new Set<Socket>();

  constructor(private readonly hosts: Record<string, string> = {}) {
    this.server = createServer((req, res) => {
      this.seen.push(`${req.method} ${req.url}`);
      const target = new URL(req.url ?? "");
      const mapped = this.hosts[`${target.hostname}:${target.port || "80"}`];
      if (mapped) target.host = mapped;
      const up = request(target, { method: req.method, headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on("error", () => res.destroy());
      req.pipe(up);
    });
    this.server.on("connect", (req, client: Socket) => {
      this.seen.push(`CONNECT ${req.url}`);
      const [host, port] = (this.hosts[req.url ?? ""] ?? req.url ?? "").split(":");
      const upstream = connect(Number(port), host as string, () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.pipe(client);
        client.pipe(upstream);
      });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("error", () => s.destroy());
        s.on("close", () => this.sockets.delete(s));
      }
    });
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
