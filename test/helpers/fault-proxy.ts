/**
 * A fault-injecting TCP proxy in front of the S3 server (node:net, loopback only). Each
 * connection is passed through, reset before anything reaches the server, reset in the middle
 * of the response (after the server did the work), stalled, or refused while the proxy is down.
 * Clients must not keep connections alive, so that each request gets its own fate.
 */
import net from "node:net";

export type Fate = "pass" | "reset" | "reset-mid-response" | "stall";

export class FaultProxy {
  readonly counts: Record<Fate | "refused" | "stallAbortedByClient", number> = {
    pass: 0,
    reset: 0,
    "reset-mid-response": 0,
    stall: 0,
    refused: 0,
    stallAbortedByClient: 0,
  };
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(
    private readonly target: { host: string; port: number },
    public decide: () => Fate = () => "pass",
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = net.createServer((client) => this.handle(client));
    await new Promise<void>((resolve) => this.server!.listen(this.port, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Stops listening: new connections are refused until `start()` again (same port). */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  private handle(client: net.Socket): void {
    this.sockets.add(client);
    client.on("close", () => this.sockets.delete(client));
    client.on("error", () => undefined);
    const fate = this.decide();
    this.counts[fate] += 1;
    if (fate === "reset") {
      client.resetAndDestroy();
      return;
    }
    if (fate === "stall") {
      client.on("data", () => undefined); // swallow the request, answer nothing
      // the client gives up on its own (its attempt timeout aborts the request): proof it did
      client.on("close", () => (this.counts.stallAbortedByClient += 1));
      return;
    }
    const upstream = net.connect(this.target.port, this.target.host);
    upstream.on("error", () => client.destroy());
    client.pipe(upstream);
    if (fate === "pass") {
      upstream.pipe(client);
      return;
    }
    // reset-mid-response: the server has done the work; the client gets a torn response
    upstream.once("data", (chunk: Buffer) => {
      client.write(chunk.subarray(0, Math.max(1, Math.floor(chunk.length / 2))), () => client.resetAndDestroy());
      upstream.destroy();
    });
  }
}
