// Who may see a job: whoever presents its token (Authorization: Bearer, or ?access_token=), or
// the credential of the subject that submitted it (X-API-Key, or a Bearer JWT). An unknown job
// and a refused secret get the same 404, so ids cannot be probed.
import type { Context } from "koa";
import { HttpProblem } from "../../shared/jobs/problems.ts";
import { isJobId, type JobRecord } from "../../shared/jobs/schemas.ts";
import type { JobStore } from "../../shared/store/job-store.ts";
import { tokenMatches } from "../../shared/store/tokens.ts";
import type { Credentials } from "./credentials.ts";

const maxSecretLength = 8192;

/** Every secret the request carries, in the order they are tried. */
export function presentedSecrets(ctx: Context): string[] {
  const secrets: string[] = [];
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get("Authorization"))?.[1];
  if (bearer) secrets.push(bearer);
  const query = ctx.query.access_token;
  if (typeof query === "string" && query !== "") secrets.push(query);
  const apiKey = ctx.get("X-API-Key");
  if (apiKey) secrets.push(apiKey);
  return secrets.filter((s) => s.length <= maxSecretLength);
}

/** The job, if one of `secrets` opens it; null for anything else (never says which). */
export async function jobForSecrets(
  store: Pick<JobStore, "get">,
  credentials: Credentials,
  id: string,
  secrets: readonly string[],
): Promise<JobRecord | null> {
  if (secrets.length === 0 || !isJobId(id)) return null;
  const job = await store.get(id);
  if (!job) return null;
  if (secrets.some((s) => s.length <= 256 && tokenMatches(s, job.tokenHash))) return job;
  if (job.owner) {
    for (const s of secrets) if ((await credentials.subjectOf(s)) === job.owner) return job;
  }
  return null;
}

export const missingToken = (): HttpProblem =>
  new HttpProblem("unauthorized", "send the job's token as `Authorization: Bearer <token>`", {
    headers: { "WWW-Authenticate": 'Bearer realm="herald"' },
  });

export const jobNotFound = (): HttpProblem => new HttpProblem("notFound", "no job with this id for this token");

/** The job `id` if the request may see it; throws 401 (no secret at all) or 404 (anything else). */
export async function authorisedJob(
  ctx: Context,
  store: Pick<JobStore, "get">,
  credentials: Credentials,
  id: string,
): Promise<JobRecord> {
  const secrets = presentedSecrets(ctx);
  if (secrets.length === 0) throw missingToken();
  const job = await jobForSecrets(store, credentials, id, secrets);
  if (!job) throw jobNotFound();
  return job;
}

/** The subject of the first credential (API key or JWT) in the request that holds, or null. A
 * job token is no credential: its holder is known only by its address. */
export async function requester(ctx: Context, credentials: Credentials): Promise<string | null> {
  if (!credentials.required) return null;
  for (const s of presentedSecrets(ctx)) {
    const subject = await credentials.subjectOf(s);
    if (subject) return subject;
  }
  return null;
}

/** The submitting subject: null when credentials are not required; throws 401 when they are and
 * the request has none that holds. */
export async function submitter(ctx: Context, credentials: Credentials): Promise<string | null> {
  if (!credentials.required) return null;
  const subject = await requester(ctx, credentials);
  if (subject) return subject;
  const secrets = presentedSecrets(ctx);
  throw new HttpProblem(
    "unauthorized",
    secrets.length === 0 ? "submitting needs a credential: X-API-Key or a Bearer JWT" : "the credential is not valid",
    { headers: { "WWW-Authenticate": 'Bearer realm="herald"' } },
  );
}
