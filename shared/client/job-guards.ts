// Checks that what a server sent is a job view, written by hand: the zod schemas in shared/jobs/schemas.ts
// would be most of /client.js (about 90 KB of its gzipped size), and the browser needs only this.
// It accepts what JobView accepts (test/unit/client-guards.test.ts compares the two), so a channel
// can trust the fields it reads; unknown extra fields are kept, not stripped.
import { jobStatuses } from "../jobs/job-status.ts";
import type { AcceptedJob, JobView } from "../jobs/schemas.ts";

type Fields = Record<string, unknown>;

const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const statuses: ReadonlySet<unknown> = new Set(jobStatuses);

const isObject = (x: unknown): x is Fields => typeof x === "object" && x !== null && !Array.isArray(x);
const isNumber = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
const optional = (x: unknown, test: (x: unknown) => boolean): boolean => x === undefined || test(x);
const isString = (x: unknown): x is string => typeof x === "string";
const isBoolean = (x: unknown): x is boolean => typeof x === "boolean";

function isProgress(p: unknown): boolean {
  return (
    isObject(p) &&
    isNumber(p.percent) &&
    p.percent >= 0 &&
    p.percent <= 100 &&
    optional(p.message, (m) => isString(m) && m.length <= 500) &&
    optional(p.etaSeconds, (s) => isNumber(s) && s >= 0 && s <= 31_536_000)
  );
}

function isProblem(p: unknown): boolean {
  return (
    isObject(p) &&
    isString(p.type) &&
    isString(p.title) &&
    optional(p.status, Number.isInteger) &&
    optional(p.detail, isString) &&
    optional(p.instance, isString)
  );
}

export function isJobView(x: unknown): x is JobView {
  return (
    isObject(x) &&
    isString(x.id) &&
    uuidV4.test(x.id) &&
    isString(x.type) &&
    statuses.has(x.status) &&
    Number.isInteger(x.version) &&
    Number.isInteger(x.attempts) &&
    isProgress(x.progress) &&
    isString(x.createdAt) &&
    isString(x.updatedAt) &&
    isString(x.statusUrl) &&
    ["startedAt", "finishedAt", "resultUrl", "retryAt"].every((k) => optional(x[k], isString)) &&
    optional(x.cancelRequested, isBoolean) &&
    optional(x.stalled, isBoolean) &&
    optional(x.error, isProblem)
  );
}

export function isAcceptedJob(x: unknown): x is AcceptedJob {
  return isJobView(x) && isString((x as Fields).token);
}

/** The view, or a TypeError naming where the bad value came from. */
export function asJobView(x: unknown, from: string): JobView {
  if (!isJobView(x)) throw new TypeError(`${from} sent something that is not a job view`);
  return x;
}

export function asAcceptedJob(x: unknown, from: string): AcceptedJob {
  if (!isAcceptedJob(x)) throw new TypeError(`${from} sent something that is not an accepted job`);
  return x;
}
