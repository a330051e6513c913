// Socket.IO on the API's HTTP server, with the sharded Redis adapter as the backplane: a `job`
// event to a job's room (SPUBLISHed by a worker or an API instance, mostly with the commit itself)
// reaches the sockets of that room on every instance. In the "dynamic" subscription mode each room
// has its own sharded channel, subscribed only while the instance holds a socket in the room: an
// instance hears only of the jobs its clients follow. Clients join rooms with `subscribe` and the
// job token.
import type { Server as HttpServer } from "node:http";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { Server, type Socket } from "socket.io";
import {
  type ClientToServerEvents,
  type ServerToClientEvents,
  type SubscribeReply,
  SubscribeRequest,
  UnsubscribeRequest,
} from "../../shared/events/realtime-events.ts";
import { HttpProblem, type ProblemKind } from "../../shared/jobs/problems.ts";
import type { Problem } from "../../shared/jobs/schemas.ts";
import type { Logger } from "../../shared/observability/log.ts";
import type { ApiMetrics } from "../../shared/observability/metrics.ts";
import type { JobStore } from "../../shared/store/job-store.ts";
import type { Names } from "../../shared/store/names.ts";
import type { RedisClient } from "../../shared/store/redis-job-store.ts";
import { jobForSecrets } from "./access.ts";
import type { Credentials } from "./credentials.ts";
import { isAllowedRequest, type OriginPolicy } from "./origins.ts";
import { RoomSubscriptions } from "./room-subscriptions.ts";
import { servedView } from "./served-resource.ts";

export interface RealtimeDeps {
  store: JobStore;
  credentials: Credentials;
  /** Two dedicated connections for the adapter (one publishes, one subscribes). */
  adapterPub: RedisClient;
  adapterSub: RedisClient;
  names: Names;
  log: Logger;
  origins: OriginPolicy;
  /** RESOURCE_ORIGINS: a snapshot never carries a resource URI the API would not redirect to. */
  resourceOrigins: readonly string[];
  maxJobsPerSocket: number;
  maxBufferBytes: number;
  /** Events a socket may send per second (burst: twice that); far beyond it, it is disconnected. */
  eventsPerSecond: number;
  metrics?: Pick<ApiMetrics, "sockets">;
}

export type RealtimeServer = Server<ClientToServerEvents, ServerToClientEvents>;
type HeraldSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

const problem = (kind: ProblemKind, detail?: string): Problem => new HttpProblem(kind, detail).problem;

/** A token bucket: true while a request may pass. */
function tokenBucket(perSecond: number, burst: number): () => boolean {
  let tokens = burst;
  let last = Date.now();
  return () => {
    const now = Date.now();
    tokens = Math.min(burst, tokens + ((now - last) / 1000) * perSecond);
    last = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}

export function attachRealtime(http: HttpServer, deps: RealtimeDeps): RealtimeServer {
  let io: RealtimeServer | undefined;
  const rooms = new RoomSubscriptions({
    subscriber: deps.adapterSub,
    publisher: deps.adapterPub,
    jobOf: (channel) => deps.names.jobOfEventsChannel(channel),
    read: (jobId) => deps.store.get(jobId),
    // To this instance's sockets only: every instance catches its own rooms up.
    deliver: (record) =>
      io?.local.to(deps.names.jobRoom(record.id)).emit("job", servedView(record, deps.resourceOrigins)),
    log: deps.log,
  });
  http.on("close", () => rooms.close());
  io = new Server(http, {
    path: "/socket.io",
    maxHttpBufferSize: deps.maxBufferBytes,
    // WebSockets are not subject to CORS: every handshake (polling or websocket) is checked here.
    allowRequest: (req, callback) => callback(null, isAllowedRequest(deps.origins, req)),
    cors: { origin: true, methods: ["GET", "POST"] },
    adapter: createShardedAdapter(deps.adapterPub, rooms.client, {
      channelPrefix: deps.names.socketIoKey,
      subscriptionMode: "dynamic",
    }),
  });
  io.on("connection", (socket) => onConnection(socket, deps, rooms));
  return io;
}

function onConnection(socket: HeraldSocket, deps: RealtimeDeps, rooms: RoomSubscriptions): void {
  deps.metrics?.sockets.inc();
  socket.on("disconnect", () => deps.metrics?.sockets.dec());
  const following = new Set<string>();
  const bucket = tokenBucket(deps.eventsPerSecond, deps.eventsPerSecond * 2);
  let refused = 0;
  // Every incoming event pays into the bucket; a socket that keeps flooding is dropped.
  socket.use((packet, next) => {
    if (bucket()) return next();
    refused++;
    const ack = packet[packet.length - 1];
    if (typeof ack === "function")
      ack({ ok: false, error: problem("rateLimited", `at most ${deps.eventsPerSecond} events a second`) });
    if (refused > deps.eventsPerSecond * 10) {
      deps.log.warn("disconnecting a flooding socket", { id: socket.id });
      socket.disconnect(true);
    }
  });
  // Secrets from the handshake: a job token (`auth.token`) or a submitter credential (`auth.credential`).
  const auth = socket.handshake.auth as { token?: unknown; credential?: unknown } | undefined;
  const handshakeSecrets = [auth?.token, auth?.credential].filter(
    (s): s is string => typeof s === "string" && s !== "",
  );

  socket.on("subscribe", async (raw, reply) => {
    if (typeof reply !== "function") return; // nobody to answer; ignore
    const answer = (r: SubscribeReply) => reply(r);
    try {
      const req = SubscribeRequest.safeParse(raw);
      if (!req.success) return answer({ ok: false, error: problem("invalidRequest", "expected {jobId, token}") });
      const { jobId } = req.data;
      const secrets = [...(req.data.token ? [req.data.token] : []), ...handshakeSecrets];
      if (secrets.length === 0) return answer({ ok: false, error: problem("unauthorized") });
      if (!following.has(jobId) && following.size >= deps.maxJobsPerSocket) {
        return answer({ ok: false, error: problem("tooManySubscriptions", `at most ${deps.maxJobsPerSocket}`) });
      }
      const job = await jobForSecrets(deps.store, deps.credentials, jobId, secrets);
      if (!job) return answer({ ok: false, error: problem("notFound", "no job with this id for this token") });
      // Join first (and wait until the room's channel is live), read second: a change committed in
      // between reaches us as an event.
      const room = deps.names.jobRoom(jobId);
      await socket.join(room);
      try {
        await rooms.live(deps.names.jobEventsChannel(jobId));
      } catch (err) {
        if (!following.has(jobId)) await socket.leave(room);
        throw err;
      }
      following.add(jobId);
      const fresh = (await deps.store.get(jobId)) ?? job;
      answer({ ok: true, job: servedView(fresh, deps.resourceOrigins) });
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
