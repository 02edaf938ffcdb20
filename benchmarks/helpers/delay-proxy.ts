/**
 * A TCP proxy on loopback that delays every chunk by half a round trip in each direction,
 * keeping order: a client behind it sees the S3 server `rttMs` farther away, as a store in
 * another zone or region would be. A request and its answer cost one `rttMs` however many
 * chunks each is sent in (each chunk is delayed from its own arrival, not queued behind the
 * previous one's delay); a new connection costs one more, as its handshake would.
 */
import net from "node:net";

export class DelayProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  /** TCP connections accepted so far: a client that keeps connections alive opens few. */
  connections = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly rttMs: number,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      this.connections += 1;
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        // Nagle's algorithm would hold a second small write (a body after its headers) until
        // the first is acknowledged, and the peer delays that ACK by up to 40 ms: a round trip
        // would cost the delay plus up to 40 ms more, which no real network adds
        s.setNoDelay(true);
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      // the handshake a real connection would cost before its first byte can leave: a client
      // that opens a connection per request pays a round trip more, as it would over a network
      const handshakeDone = performance.now() + this.rttMs;
      this.pipe(client, upstream, handshakeDone);
      this.pipe(upstream, client, 0);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /**
   * Forwards `from` to `to` in order, each chunk `rttMs / 2` after it arrived (and not before
   * `notBefore + rttMs / 2`): a delay per chunk from its own arrival, so a message sent in
   * several chunks costs one delay, not one per chunk.
   */
  private pipe(from: net.Socket, to: net.Socket, notBefore: number): void {
    const half = this.rttMs / 2;
    const queue: { due: number; chunk: Buffer | null }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && queue[0]!.due <= now + 0.5) {
        const { chunk } = queue.shift()!;
        if (to.destroyed) continue;
        if (chunk === null) to.end();
        else to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - now);
    };
    const enqueue = (chunk: Buffer | null) => {
      queue.push({ due: Math.max(performance.now(), notBefore) + half, chunk });
      timer ??= setTimeout(flush, queue[0]!.due - performance.now());
    };
    from.on("data", (chunk: Buffer) => enqueue(chunk));
    from.on("end", () => enqueue(null));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
