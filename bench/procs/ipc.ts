// The child side of the bench's IPC: requests `{ id, cmd, args }` from the parent are answered
// `{ id, ok, result }` or `{ id, ok: false, error }`. A child registers one handler per command.
// Messages without a command this child knows are left to other listeners (the probe, say).

export type Handlers = Record<string, (args: never) => Promise<unknown> | unknown>;

export interface Request {
  readonly id: number;
  readonly cmd: string;
  readonly args?: unknown;
}

export function isRequest(msg: unknown): msg is Request {
  return typeof msg === "object" && msg !== null && typeof (msg as Request).id === "number" && "cmd" in msg;
}

export function serve(handlers: Handlers): void {
  if (!process.send) throw new Error("a bench child needs an IPC channel (spawn it with bench/procs.ts)");
  process.on("message", (msg: unknown) => {
    if (!isRequest(msg) || !(msg.cmd in handlers)) return;
    const handler = handlers[msg.cmd] as (args: unknown) => unknown;
    Promise.resolve()
      .then(() => handler(msg.args))
      .then(
        (result) => process.send?.({ id: msg.id, ok: true, result }),
        (err: unknown) =>
          process.send?.({
            id: msg.id,
            ok: false,
            error: err instanceof Error ? (err.stack ?? err.message) : String(err),
          }),
      );
  });
  // The parent going away (Ctrl-C, a crash) ends the child: nothing is left running.
  process.on("disconnect", () => process.exit(0));
  process.send({ ready: true });
}
