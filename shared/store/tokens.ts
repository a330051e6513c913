// Per-job access tokens: 256 random bits, shown once; only a SHA-256 hash is stored.
import { hash, randomFillSync, timingSafeEqual } from "node:crypto";

const tokenBytes = 32;
// Random bytes are drawn from the CSPRNG 128 tokens at a time (one call instead of one per submit,
// as node's randomUUID does); each token's bytes are used once, and zeroed once used.
const pool = Buffer.alloc(tokenBytes * 128);
let next = pool.length;

export function newToken(): string {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  const bytes = pool.subarray(next, next + tokenBytes);
  next += tokenBytes;
  const token = bytes.toString("base64url");
  bytes.fill(0);
  return token;
}

// One-shot `crypto.hash` rather than createHash(): no Hash object (and its stream machinery) per
// call; a profile of the sustained bench showed the Hash constructor and digest at ~2 % of the API.
export function hashToken(token: string): string {
  return hash("sha256", token, "base64url");
}

/** Constant-time comparison of a presented token with a stored hash: the digest's bytes with the
 * stored hash's (hashToken wrote it, in canonical base64url), without encoding the digest first. */
export function tokenMatches(token: string, storedHash: string): boolean {
  const a = hash("sha256", token, "buffer");
  const b = Buffer.from(storedHash, "base64url");
  return a.length === b.length && timingSafeEqual(a, b);
}
