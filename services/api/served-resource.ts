// What the API shows of a succeeded job's resource URI. Workers check it when the handler returns
// it, but a record written before that check (or before RESOURCE_ORIGINS was narrowed) must still
// never become an off-list redirect or a header Node refuses (a 500): such a URI is not served,
// and the job's result link points at its own /result, which answers `invalid-resource`.
import { resultPath, toView } from "../../shared/jobs/job-view.ts";
import { InvalidResourceError, normalizeResourceUri } from "../../shared/jobs/resource-uri.ts";
import type { JobRecord, JobView } from "../../shared/jobs/schemas.ts";

/** The encoded URI to send a client to, or the reason it may not be served. */
export function servedResource(uri: string, allowedOrigins: readonly string[]): string | InvalidResourceError {
  try {
    return normalizeResourceUri(uri, allowedOrigins);
  } catch (err) {
    if (err instanceof InvalidResourceError) return err;
    throw err;
  }
}

/** toView, with `resultUrl` as the API serves it. */
export function servedView(r: JobRecord, allowedOrigins: readonly string[], opts: { stalled?: boolean } = {}): JobView {
  return serveView(toView(r, opts), allowedOrigins);
}

/** A view (as a job event carries it: toView of the record) with `resultUrl` as the API serves it.
 * Any resultUrl but the job's own /result is a resource URI; serving one twice changes nothing. */
export function serveView(view: JobView, allowedOrigins: readonly string[]): JobView {
  if (view.resultUrl === undefined) return view; // every job that has not succeeded
  const own = resultPath(view.id);
  if (view.resultUrl === own) return view;
  const uri = servedResource(view.resultUrl, allowedOrigins);
  return { ...view, resultUrl: typeof uri === "string" ? uri : own };
}
