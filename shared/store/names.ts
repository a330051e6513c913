// Every Redis key, Redis channel, exchange and queue name, built from one namespace.
// Nothing else in the code base spells these strings.
//
// Redis Cluster: a job's keys carry its shard's hash tag (`<ns>:{<tag>}:...`, see shards.ts), as do
// the per-namespace structures of that shard, so every script and MULTI on a job is in one slot.
// Readers of a per-namespace structure visit all shards (`shards`).
import { allShards, shardOf, shardTags } from "./shards.ts";

export interface Names {
  readonly namespace: string;
  /** Every shard number (0 ..< shardCount): what a reader of a per-shard structure iterates. */
  readonly shards: readonly number[];
  /** The shard a job's keys, and its entries in the per-shard structures, belong to. */
  shardOf(id: string): number;
  /** Redis string: the job record (JSON). */
  jobKey(id: string): string;
  /** Redis string: the job's result (JSON), written with the `succeeded` transition. */
  resultKey(id: string): string;
  /** Redis sharded channel (SPUBLISH/SSUBSCRIBE): every committed change of a job, as the Socket.IO
   * sharded adapter's BROADCAST of a `job` event to the job's room (the adapter's channel for that
   * room in its "dynamic" subscription mode). Sockets, SSE and long polls all listen here. */
  jobEventsChannel(id: string): string;
  /** The job whose events channel `channel` is, or null for any other channel. */
  jobOfEventsChannel(channel: string): string | null;
  /** Redis string: a queued or running job's payload (JSON), kept until the job ends so a lost
   * message can be published again. */
  payloadKey(id: string): string;
  /** Redis sorted set of a shard: its running jobs' lease expiry (ms since epoch), renewed by
   * their worker. */
  leasesKey(shard: number): string;
  /** Redis sorted set of a shard: its queued jobs by when they are due (ms since epoch), for the
   * queue watchdog. */
  queuedKey(shard: number): string;
  /** Redis sorted set of a shard: its newest job ids by createdAt (ms since epoch), bounded; the
   * operator page's index of recent jobs (merged over the shards). */
  recentJobsKey(shard: number): string;
  /** Redis sharded pub/sub channel (SPUBLISH) of a shard: control messages (cancel) about its jobs;
   * a worker subscribes to every shard's. */
  controlChannel(shard: number): string;
  /** Redis string: an Idempotency-Key's record. */
  idempotencyKey(scope: string, key: string): string;
  /** Redis hash: job type name → its definition as last announced by a worker (JSON; see
   * shared/registry/job-type-registry.ts). */
  readonly jobTypesKey: string;
  /** Redis sorted set: ids of the workers serving a job type, by when their announcement expires
   * (ms since epoch). */
  jobTypeWorkersKey(name: string): string;
  /** Redis channel: the name of a job type whose definition an announcement changed. */
  readonly jobTypesChangedChannel: string;
  /** Redis counter of a rate-limit window. */
  rateLimitKey(bucket: string, subject: string, window: number): string;
  /** Redis set: a submitter's jobs in flight. */
  inFlightKey(subject: string): string;
  /** Queue where a retry waits out its delay (TTL) before dead-lettering back to the jobs exchange. */
  retryQueue(tierMs: number): string;
  /** Socket.IO room that receives a job's `job` events. The one place that decides it: its name is
   * in the job's events channel, which commit-job.lua publishes on, so on a Redis Cluster it must
   * carry the hash tag of the job's keys (the channel must be in the script's slot). */
  jobRoom(id: string): string;
  /** Channel prefix of the Socket.IO sharded Redis adapter (shared by API instances and workers). */
  readonly socketIoKey: string;
  /** Durable direct exchange that takes new jobs. */
  readonly jobsExchange: string;
  /** Durable queue the workers consume. */
  readonly jobsQueue: string;
  /** Exchange and queue that keep rejected messages for an operator to inspect. */
  readonly deadLetterExchange: string;
  readonly deadLetterQueue: string;
  /** Routing key of job messages. */
  readonly jobsRoutingKey: string;
}

export function names(namespace: string): Names {
  const ns = namespace;
  /** The prefix of shard k's keys: `<ns>:{<tag>}`. */
  const shard = (k: number): string => {
    const tag = shardTags[k];
    if (tag === undefined) throw new RangeError(`no shard ${k}`);
    return `${ns}:{${tag}}`;
  };
  const job = (id: string) => `${shard(shardOf(id))}:job:${id}`;
  // The job-type registry is one small structure written by MULTIs over its hash and zsets: one slot
  // for all of it. A hot slot is acceptable here: writes come from worker announcements only.
  const registry = `${ns}:{${ns}:job-types}`;
  const socketIoKey = `${ns}:socket.io`;
  // The room carries the job's shard tag: commit-job.lua publishes on the room's channel, which must
  // be in the slot of the job's keys (the channel's hash tag is the room's, the first braces in it).
  const jobRoom = (id: string) => `job:{${shardTags[shardOf(id)]}}:${id}`;
  const roomChannel = /#job:\{[^}]*\}:([^#]+)#$/;
  return Object.freeze({
    namespace: ns,
    shards: allShards,
    shardOf,
    jobKey: job,
    resultKey: (id: string) => `${job(id)}:result`,
    payloadKey: (id: string) => `${job(id)}:payload`,
    jobRoom,
    // The sharded adapter's channel of one room: `<prefix>#<namespace>#<room>#` (dynamicChannel in
    // @socket.io/redis-adapter's sharded-adapter.js; test/integration/sharded-room-message.test.ts).
    jobEventsChannel: (id: string) => `${socketIoKey}#/#${jobRoom(id)}#`,
    jobOfEventsChannel: (channel: string) => {
      const id = roomChannel.exec(channel)?.[1];
      return id !== undefined && channel === `${socketIoKey}#/#${jobRoom(id)}#` ? id : null;
    },
    leasesKey: (k: number) => `${shard(k)}:leases`,
    queuedKey: (k: number) => `${shard(k)}:queued`,
    recentJobsKey: (k: number) => `${shard(k)}:jobs:recent`,
    controlChannel: (k: number) => `${shard(k)}:control`,
    idempotencyKey: (scope: string, key: string) => `${ns}:idem:${scope}:${key}`,
    jobTypesKey: registry,
    jobTypeWorkersKey: (name: string) => `${registry}:${name}:workers`,
    jobTypesChangedChannel: `${registry}:changed`,
    rateLimitKey: (bucket: string, subject: string, window: number) => `${ns}:rate:${bucket}:${subject}:${window}`,
    inFlightKey: (subject: string) => `${ns}:inflight:${subject}`,
    retryQueue: (tierMs: number) => `${ns}.jobs.retry.${tierMs}ms`,
    socketIoKey,
    jobsExchange: `${ns}.jobs`,
    jobsQueue: `${ns}.jobs`,
    deadLetterExchange: `${ns}.dead-letter`,
    deadLetterQueue: `${ns}.jobs.dead`,
    jobsRoutingKey: "job",
  });
}
