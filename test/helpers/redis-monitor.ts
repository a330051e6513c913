// A Redis MONITOR tap for fault tests on a private Redis: every command the server executes, in
// execution order, with the address of the client that sent it. Commands a Lua script runs show up
// as "lua" right after the EVAL that ran them; they are reported with that EVAL's client, so a
// script's writes are attributed to the process that called it.
//
//   const tap = await monitorRedis(port, (c) => console.log(c.client, c.args));
//   await tap.sync((marker) => client.echo(marker)); // every command executed before it was reported
//   await tap.reconnect(); // after a restart of the server
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

export interface MonitoredCommand {
  /** "127.0.0.1:<port>" of the sending client (for a script's commands: the EVAL's client). */
  client: string;
  /** Run by a Lua script. */
  script: boolean;
  /** Command name and arguments, decoded as UTF-8. */
  args: string[];
}

export interface RedisMonitor {
  readonly connected: boolean;
  /** Times the connection ended while nobody had asked for it (commands may have gone unseen). */
  readonly drops: number;
  /** Resolves once a marker sent now (with `send`, e.g. a client's ECHO) has come back through
   * MONITOR: every command the server executed before it has been reported. */
  sync(send: (marker: string) => Promise<unknown>, timeoutMs?: number): Promise<void>;
  /** Connects again (after a server restart); commands run while disconnected were not seen. */
  reconnect(): Promise<void>;
  /** Marks the coming disconnect as expected (the harness is about to kill the server). */
  expectDrop(): void;
  close(): void;
}

export async function monitorRedis(port: number, onCommand: (c: MonitoredCommand) => void): Promise<RedisMonitor> {
  let socket: Socket | undefined;
  let connected = false;
  let drops = 0;
  let expected = false;
  let caller = "?";
  const markers = new Map<string, () => void>();

  const onLine = (line: string) => {
    // +1764240000.123456 [0 127.0.0.1:40312] "EVAL" "..." ...
    const m = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
    if (!m?.[1] || m[2] === undefined) return;
    const script = m[1] === "lua";
    if (!script) caller = m[1];
    const args = parseQuoted(m[2]);
    if (!script && args[0]?.toUpperCase() === "ECHO" && args[1]) markers.get(args[1])?.();
    onCommand({ client: caller, script, args });
  };

  const open = () =>
    new Promise<void>((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port });
      let buffered = "";
      let ok = false;
      s.setEncoding("latin1"); // MONITOR escapes every non-ASCII byte: the lines are plain ASCII
      s.once("error", (err) => {
        if (!ok) reject(err);
      });
      s.on("connect", () => s.write("MONITOR\r\n"));
      s.on("data", (chunk: string) => {
        buffered += chunk;
        let end = buffered.indexOf("\r\n");
        while (end >= 0) {
          const line = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (!ok) {
            if (line !== "+OK") return reject(new Error(`MONITOR answered ${line}`));
            ok = true;
            connected = true;
            resolve();
          } else onLine(line);
          end = buffered.indexOf("\r\n");
        }
      });
      s.on("close", () => {
        if (socket === s) {
          if (connected && !expected) drops++;
          connected = false;
        }
      });
      socket = s;
    });

  await open();
  return {
    get connected() {
      return connected;
    },
    get drops() {
      return drops;
    },
    async sync(send, timeoutMs = 10_000) {
      const marker = `soak-sync-${randomBytes(6).toString("hex")}`;
      const seen = new Promise<void>((resolve) => markers.set(marker, resolve));
      let timer: NodeJS.Timeout | undefined;
      try {
        await send(marker);
        await Promise.race([
          seen,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`MONITOR did not catch up in ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
      } finally {
        clearTimeout(timer);
        markers.delete(marker);
      }
    },
    async reconnect() {
      socket?.destroy();
      expected = false;
      await open();
    },
    expectDrop() {
      expected = true;
    },
    close() {
      expected = true;
      socket?.destroy();
    },
  };
}

const ESCAPES: Record<string, number> = { n: 10, r: 13, t: 9, a: 7, b: 8, '"': 34, "\\": 92 };

/** Parses MONITOR's quoted arguments (`"SET" "k" "{\"a\":\"\xc3\xa9\"}"`: sdscatrepr escaping). */
export function parseQuoted(text: string): string[] {
  const args: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '"') {
      i++;
      continue;
    }
    const bytes: number[] = [];
    i++;
    while (i < text.length && text[i] !== '"') {
      const c = text[i] as string;
      if (c !== "\\") {
        bytes.push(c.charCodeAt(0));
        i++;
        continue;
      }
      const next = text[i + 1] ?? "";
      if (next === "x") {
        bytes.push(Number.parseInt(text.slice(i + 2, i + 4), 16));
        i += 4;
      } else {
        bytes.push(ESCAPES[next] ?? next.charCodeAt(0));
        i += 2;
      }
    }
    i++; // the closing quote
    args.push(Buffer.from(bytes).toString("utf8"));
  }
  return args;
}
