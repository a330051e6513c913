// Job statuses, free of any schema library: the browser client needs them, and shared/jobs/schemas.ts
// (zod) builds its enum from the same list.

export const jobStatuses = ["queued", "running", "succeeded", "failed", "canceled"] as const;
export type JobStatusName = (typeof jobStatuses)[number];

export const terminalStatuses: ReadonlySet<JobStatusName> = new Set(["succeeded", "failed", "canceled"]);
export const isTerminal = (s: JobStatusName): boolean => terminalStatuses.has(s);
