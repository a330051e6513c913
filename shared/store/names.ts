// Every Redis key, Redis channel, exchange and queue name, built from one namespace.
// Nothing else in the code base spells these strings.

export interface Names {
  readonly namespace: string;
  /** Redis string: the job record (JSON). */
  jobKey(id: string): string;
  /** Redis string: the job's result (JSON), written with the `succeeded` transition. */
  resultKey(id: string): string;
  /** Redis sharded channel (SPUBLISH/SSUBSCRIBE): every committed change of a job, as the Socket.IO
   * sharded adapter's BROADCAST of a `job` event to the job's room (the adapter's channel for that
   * room in its "dynamic" subscription mode). Sockets, SSE and long polls all listen here. */
  jobEventsChannel(id: string): string;
  /** Redis string: a queued or running job's payload (JSON), kept until the job ends so a lost
   * message can be published again. */
  payloadKey(id: string): string;
  /** Redis sorted set: running jobs' lease expiry (ms since epoch), renewed by their worker. */
  readonly leasesKey: string;
  /** Redis sorted set: queued jobs by when they are due (ms since epoch), for the queue watchdog. */
  readonly queuedKey: string;
  /** Redis sorted set: the newest job ids by createdAt (ms since epoch), bounded; the operator
   * page's index of recent jobs. */
  readonly recentJobsKey: string;
  /** Redis channel: control messages to workers (cancel). */
  readonly controlChannel: string;
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
  const socketIoKey = `${ns}:socket.io`;
  // A cluster deployment puts the job's hash tag in here (the one line to change), e.g.
  // `job:{${shardOf(id)}}:${id}`: the events channel then hashes to the slot of the job's keys.
  const jobRoom = (id: string) => `job:${id}`;
  return Object.freeze({
    namespace: ns,
    jobKey: (id: string) => `${ns}:job:${id}`,
    resultKey: (id: string) => `${ns}:job:${id}:result`,
    payloadKey: (id: string) => `${ns}:job:${id}:payload`,
    jobRoom,
    // The sharded adapter's channel of one room: `<prefix>#<namespace>#<room>#` (dynamicChannel in
    // @socket.io/redis-adapter's sharded-adapter.js; test/integration/sharded-room-message.test.ts).
    jobEventsChannel: (id: string) => `${socketIoKey}#/#${jobRoom(id)}#`,
    leasesKey: `${ns}:leases`,
    queuedKey: `${ns}:queued`,
    recentJobsKey: `${ns}:jobs:recent`,
    controlChannel: `${ns}:control`,
    idempotencyKey: (scope: string, key: string) => `${ns}:idem:${scope}:${key}`,
    jobTypesKey: `${ns}:job-types`,
    jobTypeWorkersKey: (name: string) => `${ns}:job-types:${name}:workers`,
    jobTypesChangedChannel: `${ns}:job-types:changed`,
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
