// Turns a stored record into the public representation (status body, events, snapshots).
import type { JobRecord, JobView } from "./schemas.ts";

export const statusPath = (id: string): string => `/jobs/${id}`;
export const resultPath = (id: string): string => `/jobs/${id}/result`;

export function toView(r: JobRecord, opts: { stalled?: boolean } = {}): JobView {
  const view: JobView = {
    id: r.id,
    type: r.type,
    status: r.status,
    version: r.version,
    attempts: r.attempts,
    progress: r.progress,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    statusUrl: statusPath(r.id),
  };
  if (r.startedAt) view.startedAt = r.startedAt;
  if (r.finishedAt) view.finishedAt = r.finishedAt;
  if (r.result) view.resultUrl = r.result.kind === "stored" ? resultPath(r.id) : r.result.uri;
  if (r.error) view.error = r.error;
  if (r.retryAt) view.retryAt = r.retryAt;
  if (r.cancelRequested) view.cancelRequested = true;
  if (opts.stalled) view.stalled = true;
  return view;
}

/** Strong ETag of what a representation shows: `"<id>.<version>"`, and `.s` while it is shown
 * `stalled`, which changes without a new version (a lease lapses, or is renewed late). */
export const etagOf = (r: { id: string; version: number; stalled?: boolean }): string =>
  `"${r.id}.${r.version}${r.stalled ? ".s" : ""}"`;
