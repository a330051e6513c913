// RFC 7240 preferences: `wait=N` (bounded by LONG_POLL_MAX_SECONDS) and `return=representation`.

/** The requested wait in seconds (0 when absent or malformed), capped at `maxSeconds`. */
export function preferredWait(header: string | undefined, maxSeconds: number): number {
  if (!header) return 0;
  for (const part of header.split(",")) {
    const m = /^\s*wait\s*=\s*"?(\d{1,6})"?\s*$/i.exec(part.split(";")[0] ?? "");
    if (m?.[1]) return Math.min(Number(m[1]), maxSeconds);
  }
  return 0;
}

/** `Prefer: return=representation`: answer with the resource itself rather than a redirect. */
export function prefersRepresentation(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(",").some((part) => /^\s*return\s*=\s*"?representation"?\s*$/i.test(part.split(";")[0] ?? ""));
}
