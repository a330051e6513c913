// Herald as the benchmarks drive it: an in-process stack (real HTTP, Socket.IO, RabbitMQ, Redis;
// see test/helpers/stack.ts) under a fresh `bench-…` namespace, and the client calls it takes.
import type { ClientSocket } from "../shared/client/socket-channel.ts";
import type { JobView } from "../shared/jobs/schemas.ts";
import { randomNamespace, type Stack, startStack } from "../test/helpers/stack.ts";
import type { JsonClient } from "./http-client.ts";

/**
 * Limits that would refuse a bench's traffic from one address are raised, not switched off, so
 * their Redis round trips stay in the measured path. The in-flight bound is the exception: with no
 * workers (the accept scenario) every job stays unfinished, and its check would read an ever larger
 * set of one client's jobs, a cost no real client pays; it is off (0), its bookkeeping write remains.
 */
const benchEnv: Record<string, string> = {
  RATE_LIMIT_SUBMIT_PER_MINUTE: "10000000",
  MAX_QUEUE_DEPTH: "100000000",
  MAX_JOBS_IN_FLIGHT: "0",
  SOCKET_EVENTS_PER_SECOND: "100000",
};

export function startBenchStack(workers: number): Promise<Stack> {
  return startStack({ workers, namespace: randomNamespace("bench"), env: benchEnv });
}

/** The smallest real job: one step, no wait. */
export const demoJob = { type: "demo", payload: { steps: 1, stepMs: 0 } } as const;

export interface Accepted {
  id: string;
  token: string;
}

function isAccepted(body: unknown): body is Accepted {
  if (typeof body !== "object" || body === null) return false;
  const { id, token } = body as Record<string, unknown>;
  return typeof id === "string" && typeof token === "string";
}

/** POST /jobs; anything but a 202 with an id and token is an error. */
export async function submitDemo(client: JsonClient): Promise<Accepted> {
  const reply = await client.post("/jobs", demoJob);
  if (reply.status !== 202 || !isAccepted(reply.body)) {
    throw new Error(`POST /jobs answered ${reply.status}: ${JSON.stringify(reply.body).slice(0, 200)}`);
  }
  return reply.body;
}

/** Joins the job's room; resolves to the snapshot in the acknowledgement. */
export async function subscribe(socket: ClientSocket, job: Accepted, timeoutMs: number): Promise<JobView> {
  const reply = await socket.timeout(timeoutMs).emitWithAck("subscribe", { jobId: job.id, token: job.token });
  if (!reply.ok) throw new Error(`subscribe refused: ${reply.error.title}`);
  return reply.job;
}

export async function unsubscribe(socket: ClientSocket, jobId: string, timeoutMs: number): Promise<void> {
  const reply = await socket.timeout(timeoutMs).emitWithAck("unsubscribe", { jobId });
  if (!reply.ok) throw new Error(`unsubscribe refused: ${reply.error.title}`);
}
