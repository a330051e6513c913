// Who may see a job: whoever presents its token (Authorization: Bearer, or ?access_token=).
// Unknown job and wrong token get the same 404, so ids cannot be probed.
import type { Context } from "koa";
import type { JobStore } from "../../shared/job-store.ts";
import { HttpProblem } from "../../shared/problems.ts";
import { JobId, type JobRecord } from "../../shared/schemas.ts";
import { tokenMatches } from "../../shared/tokens.ts";

const maxTokenLength = 256;

export function presentedToken(ctx: Context): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get("Authorization"));
  if (match?.[1]) return match[1];
  const query = ctx.query.access_token;
  if (typeof query === "string" && query !== "") return query;
  return null;
}

/** The job, if `token` is its token; null for any mismatch (never says which). */
export async function jobForToken(store: JobStore, id: string, token: string): Promise<JobRecord | null> {
  if (!JobId.safeParse(id).success || token.length > maxTokenLength) return null;
  const job = await store.get(id);
  return job && tokenMatches(token, job.tokenHash) ? job : null;
}

export const missingToken = (): HttpProblem =>
  new HttpProblem("unauthorized", "send the job's token as `Authorization: Bearer <token>`", {
    headers: { "WWW-Authenticate": 'Bearer realm="herald"' },
  });

export const jobNotFound = (): HttpProblem => new HttpProblem("notFound", "no job with this id for this token");

/** The job `id` if the request holds its token; throws 401 (no token) or 404 (anything else). */
export async function authorisedJob(ctx: Context, store: JobStore, id: string): Promise<JobRecord> {
  const token = presentedToken(ctx);
  if (token === null) throw missingToken();
  const job = await jobForToken(store, id, token);
  if (!job) throw jobNotFound();
  return job;
}
