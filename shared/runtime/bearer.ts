// A configured secret sent as `Authorization: Bearer <secret>` (ADMIN_TOKEN, METRICS_TOKEN). Compared
// in constant time, of fixed-length digests, so neither the secret nor its length leaks.
import { createHash, timingSafeEqual } from "node:crypto";

export type BearerCheck = "ok" | "missing" | "wrong";

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/** Checks an Authorization header's Bearer credential against `token`. */
export function bearerChecker(token: string): (authorization: string | undefined) => BearerCheck {
  const expected = digest(token);
  return (authorization) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "");
    if (!match?.[1]) return "missing";
    return timingSafeEqual(digest(match[1]), expected) ? "ok" : "wrong";
  };
}
