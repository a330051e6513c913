// Socket.IO on the API's HTTP server, with the Redis adapter as the backplane: a `job` event
// emitted to a job's room (by a worker through the emitter, or by any instance) reaches the
// sockets of that room on every instance. Clients join rooms with `subscribe` and the job token.
import type { Server as HttpServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { Server, type Socket } from "socket.io";
import type { JobStore } from "../../shared/job-store.ts";
import { toView } from "../../shared/job-view.ts";
import type { Logger } from "../../shared/log.ts";
import type { Names } from "../../shared/names.ts";
import { HttpProblem, type ProblemKind } from "../../shared/problems.ts";
import {
  type ClientToServerEvents,
  type ServerToClientEvents,
  type SubscribeReply,
  SubscribeRequest,
  UnsubscribeRequest,
} from "../../shared/realtime-events.ts";
import type { RedisClient } from "../../shared/redis-job-store.ts";
import type { Problem } from "../../shared/schemas.ts";
import { jobForToken } from "./access.ts";
import { isAllowedRequest, type OriginPolicy } from "./origins.ts";

export interface RealtimeDeps {
  store: JobStore;
  /** Two dedicated connections for the adapter (one publishes, one subscribes). */
  adapterPub: RedisClient;
  adapterSub: RedisClient;
  names: Names;
  log: Logger;
  origins: OriginPolicy;
  maxJobsPerSocket: number;
  maxBufferBytes: number;
}

export type RealtimeServer = Server<ClientToServerEvents, ServerToClientEvents>;
type HeraldSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

const problem = (kind: ProblemKind, detail?: string): Problem => new HttpProblem(kind, detail).problem;

export function attachRealtime(http: HttpServer, deps: RealtimeDeps): RealtimeServer {
  const io: RealtimeServer = new Server(http, {
    path: "/socket.io",
    maxHttpBufferSize: deps.maxBufferBytes,
    // WebSockets are not subject to CORS: every handshake (polling or websocket) is checked here.
    allowRequest: (req, callback) => callback(null, isAllowedRequest(deps.origins, req)),
    cors: { origin: true, methods: ["GET", "POST"] },
    adapter: createAdapter(deps.adapterPub, deps.adapterSub, { key: deps.names.socketIoKey }),
  });
  io.on("connection", (socket) => onConnection(socket, deps));
  return io;
}

function onConnection(socket: HeraldSocket, deps: RealtimeDeps): void {
  const following = new Set<string>();
  const handshakeToken = typeof socket.handshake.auth?.token === "string" ? socket.handshake.auth.token : undefined;

  socket.on("subscribe", async (raw, reply) => {
    if (typeof reply !== "function") return; // nobody to answer; ignore
    const answer = (r: SubscribeReply) => reply(r);
    try {
      const req = SubscribeRequest.safeParse(raw);
      if (!req.success) return answer({ ok: false, error: problem("invalidRequest", "expected {jobId, token}") });
      const { jobId } = req.data;
      const token = req.data.token ?? handshakeToken;
      if (!token) return answer({ ok: false, error: problem("unauthorized") });
      if (!following.has(jobId) && following.size >= deps.maxJobsPerSocket) {
        return answer({ ok: false, error: problem("tooManySubscriptions", `at most ${deps.maxJobsPerSocket}`) });
      }
      const job = await jobForToken(deps.store, jobId, token);
      if (!job) return answer({ ok: false, error: problem("notFound", "no job with this id for this token") });
      // Join first, read second: a change committed in between reaches us as an event.
      await socket.join(deps.names.jobRoom(jobId));
      following.add(jobId);
      const fresh = (await deps.store.get(jobId)) ?? job;
      answer({ ok: true, job: toView(fresh) });
    } catch (err) {
      deps.log.warn("subscribe failed", { error: String(err) });
      answer({ ok: false, error: problem("storeUnavailable") });
    }
  });

  socket.on("unsubscribe", async (raw, reply) => {
    const req = UnsubscribeRequest.safeParse(raw);
    if (!req.success) {
      if (typeof reply === "function") reply({ ok: false, error: problem("invalidRequest", "expected {jobId}") });
      return;
    }
    await socket.leave(deps.names.jobRoom(req.data.jobId));
    following.delete(req.data.jobId);
    if (typeof reply === "function") reply({ ok: true });
  });
}
