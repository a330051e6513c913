// Request ids: the client's `X-Request-Id` when it is sane, else one the API makes. The id is handed
// on explicitly (the API's request state, the publish options, the worker's attempt input), not kept
// in AsyncLocalStorage: entering one turns on Node 20's promise hooks for the whole process, which
// cost every promise a propagation step (~3 % of the API's CPU per POST /jobs).

/** A client's `X-Request-Id` if it is sane (short, no spaces, quotes or control characters), else undefined. */
export function saneRequestId(value: unknown): string | undefined {
  return typeof value === "string" && /^[A-Za-z0-9._:+=@/-]{1,128}$/.test(value) ? value : undefined;
}
