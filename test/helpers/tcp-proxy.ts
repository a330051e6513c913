// A TCP proxy on loopback for fault tests: put it in front of the shared RabbitMQ (or anything) and
// cut the link without touching the broker itself.
//
//   const proxy = await startTcpProxy({ port: 5672 });
//   const url = `amqp://guest:guest@127.0.0.1:${proxy.port}`;
//   await proxy.cut();        // live connections are destroyed; new ones are reset on accept
//   proxy.resume();           // new connections pass again
//   proxy.failNext([{ closeAfterServerBytes: 600 }]); // the next connection dies mid-handshake
//
// While cut, the proxy keeps its port (it resets each new connection rather than closing the
// listener), so no other process can take the port and resume() cannot fail.
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

export interface ProxyFault {
  /** Forward this many bytes from the target to the client, then drop the connection (both sides). */
  closeAfterServerBytes?: number;
  /** Drop the connection this long after it was accepted (whatever it is doing by then). */
  closeAfterMs?: number;
}

/** One accepted connection, as the proxy saw it. */
export interface ProxiedConnection {
  /** Bytes forwarded from the target to the client so far. */
  serverBytes: number;
  /** Their sizes as they arrived: for a request/reply protocol (the AMQP handshake and
   * declarations), one reply per chunk, so a fault can be aimed inside the n-th reply. */
  serverChunks: number[];
  clientBytes: number;
  open: boolean;
  fault?: ProxyFault;
}

export interface TcpProxyOptions {
  /** The target. Default host 127.0.0.1. */
  port: number;
  host?: string;
  /** Where the proxy listens. Default 127.0.0.1 and a free port. */
  listenHost?: string;
  listenPort?: number;
}

export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  readonly isCut: boolean;
  /** Connections accepted so far (including those reset while cut or dropped by a fault). */
  readonly accepted: number;
  /** Connections currently forwarding. */
  readonly live: number;
  /** Connections reset on accept because the proxy was cut. */
  readonly refused: number;
  /** Faults from failNext() that have been applied to a connection. */
  readonly faultsApplied: number;
  /** Every connection that was forwarded (not those reset while cut), oldest first. */
  readonly connections: readonly ProxiedConnection[];
  /** Destroys every live connection and resets new ones until resume(). Resolves when all are gone. */
  cut(): Promise<void>;
  resume(): void;
  /** The next connections meet these faults, one each, in order; later ones pass untouched. */
  failNext(faults: readonly ProxyFault[]): void;
  close(): Promise<void>;
}

export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = opts.host ?? "127.0.0.1";
  const listenHost = opts.listenHost ?? "127.0.0.1";
  if (!/^127\.|^::1$/.test(targetHost) || !/^127\.|^::1$/.test(listenHost)) {
    throw new Error("startTcpProxy: loopback addresses only");
  }
  const pairs = new Set<{ client: Socket; upstream: Socket; closed: Promise<void> }>();
  const pendingFaults: ProxyFault[] = [];
  let isCut = false;
  let accepted = 0;
  let refused = 0;
  let faultsApplied = 0;
  const connections: ProxiedConnection[] = [];

  const server: Server = createServer({ noDelay: true }, (client) => {
    accepted++;
    client.on("error", () => undefined);
    if (isCut) {
      refused++;
      client.resetAndDestroy();
      return;
    }
    const fault = pendingFaults.shift();
    if (fault) faultsApplied++;
    const stats: ProxiedConnection = {
      serverBytes: 0,
      serverChunks: [],
      clientBytes: 0,
      open: true,
      ...(fault ? { fault } : {}),
    };
    connections.push(stats);
    const upstream = tcpConnect({ host: targetHost, port: opts.port, noDelay: true });
    upstream.on("error", () => undefined);
    const closed = new Promise<void>((resolve) => {
      let open = 2;
      const done = () => {
        if (--open === 0) resolve();
      };
      client.once("close", done);
      upstream.once("close", done);
    });
    const pair = { client, upstream, closed };
    pairs.add(pair);
    void closed.then(() => {
      pairs.delete(pair);
      stats.open = false;
    });
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once("close", drop);
    upstream.once("close", drop);

    let budget = fault?.closeAfterServerBytes ?? Number.POSITIVE_INFINITY;
    upstream.on("data", (chunk: Buffer) => {
      if (chunk.length < budget) {
        budget -= chunk.length;
        stats.serverBytes += chunk.length;
        stats.serverChunks.push(chunk.length);
        if (!client.write(chunk)) upstream.pause(); // back-pressure: wait for the client to drain
        return;
      }
      const part = chunk.subarray(0, budget);
      budget = 0;
      stats.serverBytes += part.length;
      if (part.length > 0) stats.serverChunks.push(part.length);
      if (part.length > 0) client.write(part);
      // end() after the write, so the client reads those bytes and then meets the close mid-frame.
      client.end(() => client.destroy());
      upstream.destroy();
    });
    client.on("data", (chunk: Buffer) => {
      stats.clientBytes += chunk.length;
      if (!upstream.write(chunk)) client.pause();
    });
    client.on("drain", () => upstream.resume());
    upstream.on("drain", () => client.resume());
    if (fault?.closeAfterMs !== undefined) {
      const timer = setTimeout(drop, fault.closeAfterMs);
      void closed.then(() => clearTimeout(timer));
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.listenPort ?? 0, listenHost, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("not a TCP server");

  const destroyAll = async () => {
    const all = [...pairs];
    for (const p of all) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await Promise.all(all.map((p) => p.closed));
  };

  return {
    host: listenHost,
    port: address.port,
    get isCut() {
      return isCut;
    },
    get accepted() {
      return accepted;
    },
    get live() {
      return pairs.size;
    },
    get refused() {
      return refused;
    },
    get faultsApplied() {
      return faultsApplied;
    },
    get connections() {
      return connections;
    },
    async cut() {
      isCut = true;
      await destroyAll();
    },
    resume() {
      isCut = false;
    },
    failNext(faults) {
      pendingFaults.push(...faults);
    },
    async close() {
      isCut = true;
      await destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
