// A TCP proxy on loopback that can freeze the target → client direction while every connection
// stays open: a broker that is connected (its TCP link is fine, the client's frames reach it) but
// whose answers do not come back, e.g. a publisher confirm that never arrives. Frames are held
// back, not dropped: thaw() delivers them late, as a stalled network would.
// (test/helpers/tcp-proxy.ts cuts connections; this one keeps them and withholds the replies.)
import { EventEmitter } from "node:events";
import { createServer, type Socket, connect as tcpConnect } from "node:net";

export interface FreezeProxy {
  readonly port: number;
  readonly frozen: boolean;
  /** Bytes forwarded client → target so far (they flow even while frozen). */
  readonly clientBytes: number;
  /** Emits "client-data" (the chunk) whenever a client sends something to the target. */
  readonly events: EventEmitter;
  /** From now on, nothing from the target reaches any client (new connections included). */
  freeze(): void;
  /** Delivers what was held back, and everything after it. */
  thaw(): void;
  close(): Promise<void>;
}

export async function startFreezeProxy(opts: { port: number; host?: string }): Promise<FreezeProxy> {
  const host = opts.host ?? "127.0.0.1";
  if (!/^127\.|^::1$/.test(host)) throw new Error("startFreezeProxy: loopback addresses only");
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const events = new EventEmitter();
  let frozen = false;
  let clientBytes = 0;

  const server = createServer({ noDelay: true }, (client) => {
    const upstream = tcpConnect({ host, port: opts.port, noDelay: true });
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.on("data", (chunk: Buffer) => {
      clientBytes += chunk.length;
      events.emit("client-data", chunk);
    });
    client.pipe(upstream);
    if (frozen) upstream.pause();
    else upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("not a TCP server");

  return {
    port: address.port,
    get frozen() {
      return frozen;
    },
    get clientBytes() {
      return clientBytes;
    },
    events,
    freeze() {
      if (frozen) return;
      frozen = true;
      for (const { client, upstream } of pairs) {
        upstream.unpipe(client);
        upstream.pause(); // the kernel buffers what the target sends; nothing is read or lost
      }
    },
    thaw() {
      if (!frozen) return;
      frozen = false;
      for (const { client, upstream } of pairs) upstream.pipe(client); // pipe() resumes the flow
    },
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Resolves when a client sends the target a chunk that contains `marker` (e.g. a message body). */
export function clientSends(proxy: FreezeProxy, marker: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proxy.events.off("client-data", onData);
      reject(new Error(`no client sent "${marker}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      if (!chunk.includes(marker)) return;
      clearTimeout(timer);
      proxy.events.off("client-data", onData);
      resolve();
    };
    proxy.events.on("client-data", onData);
  });
}
