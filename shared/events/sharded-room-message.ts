// The Socket.IO sharded Redis adapter's message that broadcasts one event to one room, built and
// read without a Socket.IO server. Workers SPUBLISH it (or commit-job.lua, with the commit) on the
// room's channel, and the adapter of each API instance that holds a socket in the room delivers it;
// the API's change feed reads the same message for SSE and long polls. @socket.io/redis-emitter
// speaks only the classic adapter's format. The format is socket.io-adapter's ClusterMessage
// (cluster-adapter.ts), which the sharded adapter sends as JSON when nothing in it is binary and
// reads as JSON when it starts with "{". test/integration/sharded-room-message.test.ts pins this
// file to the installed adapter.

/** socket.io-adapter's MessageType.BROADCAST. */
const BROADCAST = 3;
/** socket.io-parser's PacketType.EVENT. */
const EVENT = 2;
/** Any uid other than an adapter's own (random hex): an adapter ignores only its own messages. */
const UID = "emitter";
/** Herald's sockets live in Socket.IO's main namespace. */
const NSP = "/";

interface BroadcastMessage {
  uid: string;
  nsp: string;
  type: typeof BROADCAST;
  data: {
    /** No `nsp`: the receiving adapter sets it, as for the adapter's own broadcasts. */
    packet: { type: typeof EVENT; data: [string, ...unknown[]] };
    opts: { rooms: string[]; except: string[]; flags: Record<string, never> };
  };
}

/** The message that emits `event` with `args` to the sockets of `room`, as the adapter sends it. */
export function encodeRoomBroadcast(room: string, event: string, ...args: unknown[]): Buffer {
  const message: BroadcastMessage = {
    uid: UID,
    nsp: NSP,
    type: BROADCAST,
    data: {
      packet: { type: EVENT, data: [event, ...args] },
      opts: { rooms: [room], except: [], flags: {} },
    },
  };
  return Buffer.from(JSON.stringify(message));
}

/** What a broadcast message emits, or null for anything else on the channel (or a binary,
 * MessagePack-encoded broadcast, which Herald never sends). */
export function decodeRoomBroadcast(raw: Buffer | string): { rooms: string[]; event: string; args: unknown[] } | null {
  const text = typeof raw === "string" ? raw : raw.toString("utf8");
  if (!text.startsWith("{")) return null;
  let message: Partial<BroadcastMessage>;
  try {
    message = JSON.parse(text) as Partial<BroadcastMessage>;
  } catch {
    return null;
  }
  const packet = message.data?.packet;
  if (message.type !== BROADCAST || message.nsp !== NSP || packet?.type !== EVENT || !Array.isArray(packet.data)) {
    return null;
  }
  const [event, ...args] = packet.data;
  const rooms = message.data?.opts?.rooms;
  if (typeof event !== "string" || !Array.isArray(rooms)) return null;
  return { rooms, event, args };
}

/** The namespace of a liveness probe: none of Socket.IO's, so every adapter (of any Herald version)
 * drops the message, while the instance that sent it recognises its nonce (room-resync.ts). */
const PROBE_NSP = "#herald-probe";
const PROBE_MARK = Buffer.from(PROBE_NSP);

/** A message an API instance SPUBLISHes on a room's channel to see its own subscription deliver. */
export function encodeProbe(nonce: string): Buffer {
  return Buffer.from(JSON.stringify({ uid: UID, nsp: PROBE_NSP, probe: nonce }));
}

/** The nonce of a liveness probe, or null for any other message (a byte search first: every job
 * event passes through here). */
export function probeNonce(raw: Buffer | string): string | null {
  const bytes = typeof raw === "string" ? Buffer.from(raw) : raw;
  if (!bytes.includes(PROBE_MARK)) return null;
  try {
    const message = JSON.parse(bytes.toString("utf8")) as { nsp?: unknown; probe?: unknown };
    return message.nsp === PROBE_NSP && typeof message.probe === "string" ? message.probe : null;
  } catch {
    return null;
  }
}

/** The version of the job view a `job` broadcast carries, or null for anything else. */
export function jobEventVersion(raw: Buffer | string): number | null {
  const broadcast = decodeRoomBroadcast(raw);
  if (broadcast?.event !== "job") return null;
  const version = (broadcast.args[0] as { version?: unknown } | undefined)?.version;
  return typeof version === "number" ? version : null;
}
