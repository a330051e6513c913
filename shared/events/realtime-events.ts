// The Socket.IO contract, used by the server, the client library and the tests.
import { z } from "zod";
import { JobId, type JobView, type Problem } from "../jobs/schemas.ts";

export const SubscribeRequest = z.strictObject({
  jobId: JobId,
  /** The job's token, or the submitter's credential (API key or JWT). Optional when the
   * handshake's `auth.token` (job token) or `auth.credential` holds one. */
  token: z.string().min(1).max(8192).optional(),
});
export type SubscribeRequest = z.infer<typeof SubscribeRequest>;

export const UnsubscribeRequest = z.strictObject({ jobId: JobId });
export type UnsubscribeRequest = z.infer<typeof UnsubscribeRequest>;

export type SubscribeReply = { ok: true; job: JobView } | { ok: false; error: Problem };
export type UnsubscribeReply = { ok: true } | { ok: false; error: Problem };

export interface ServerToClientEvents {
  /** A job's whole new representation; keep the highest `version` seen. */
  job: (view: JobView) => void;
}

export interface ClientToServerEvents {
  /** Join the job's room; the reply carries the current state (or why not). */
  subscribe: (request: SubscribeRequest, reply: (r: SubscribeReply) => void) => void;
  unsubscribe: (request: UnsubscribeRequest, reply?: (r: UnsubscribeReply) => void) => void;
}
