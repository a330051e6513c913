// Idempotency-Key on POST /jobs (IETF httpapi draft): the same key and body within the window
// return the same job — id, Location and token; another body is a 422; a key whose first request
// is still in progress is a 409. Keys are scoped by client (the submitter's subject, else its
// address): one client's key never answers another client's request.
//
// Redis holds neither the key nor the token in clear. The record's name and the body's hash are
// HMACs under the server secret (HERALD_SECRET, the same on every instance so that a replay works
// anywhere); the job token is sealed with AES-256-GCM under a key derived from the secret, the
// scope and the Idempotency-Key (which only the client knows), with the job id and the scope as
// associated data: a record moved to another scope or pointed at another job does not open.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { HttpProblem } from "../../shared/jobs/problems.ts";
import type { Logger } from "../../shared/observability/log.ts";
import type { Names } from "../../shared/store/names.ts";
import type { RedisClient } from "../../shared/store/redis-job-store.ts";

/** How long a claim may stay "in progress" (a crashed instance's claim lapses after this). */
const pendingMs = 60_000;

/** Used when HERALD_SECRET is unset (the API warns): public, so records are then only as secret
 * as the Idempotency-Keys themselves, but every instance and restart still finds them. */
export const defaultSecret = "herald: HERALD_SECRET is unset";

interface Pending {
  state: "pending";
  bodyHash: string;
}
interface Done {
  state: "done";
  bodyHash: string;
  jobId: string;
  sealedToken: string;
}
type Entry = Pending | Done;

export type Claim =
  | { kind: "new"; complete(jobId: string, token: string): Promise<void>; abandon(): Promise<void> }
  | { kind: "replay"; jobId: string; token: string };

export interface IdempotencyOptions {
  ttlSeconds: number;
  /** HERALD_SECRET (or defaultSecret). */
  secret: string;
  log: Logger;
}

export class IdempotencyStore {
  private readonly ttlSeconds: number;
  private readonly secret: string;
  private readonly log: Logger;

  constructor(
    private readonly redis: RedisClient,
    private readonly names: Names,
    options: IdempotencyOptions,
  ) {
    ({ ttlSeconds: this.ttlSeconds, secret: this.secret, log: this.log } = options);
  }

  static validKey(key: string): boolean {
    return /^[\x21-\x7e]{1,255}$/.test(key);
  }

  /** Claims `key` of client `scope` for this request, or returns the job an earlier identical
   * request of the same client created. */
  async claim(scope: string, key: string, body: string): Promise<Claim> {
    if (!IdempotencyStore.validKey(key)) {
      throw new HttpProblem("invalidIdempotencyKey", "1 to 255 visible ASCII characters");
    }
    const redisKey = this.names.idempotencyKey(scope, this.mac("lookup", scope, key).toString("hex"));
    const bodyHash = this.mac("body", body).toString("hex");
    const pending: Pending = { state: "pending", bodyHash };
    const claimed = await this.redis.set(redisKey, JSON.stringify(pending), {
      condition: "NX",
      expiration: { type: "PX", value: pendingMs },
    });
    if (claimed === "OK") {
      return {
        kind: "new",
        complete: async (jobId, token) => {
          const sealedToken = seal(this.mac("seal", scope, key), token, binding(jobId, scope));
          const done: Done = { state: "done", bodyHash, jobId, sealedToken };
          await this.redis.set(redisKey, JSON.stringify(done), { expiration: { type: "EX", value: this.ttlSeconds } });
        },
        abandon: async () => {
          await this.redis.del(redisKey);
        },
      };
    }
    const raw = await this.redis.get(redisKey);
    if (raw === null) return this.claim(scope, key, body); // lapsed in between: try again
    const entry = JSON.parse(raw) as Entry;
    if (entry.bodyHash !== bodyHash) {
      throw new HttpProblem("idempotencyKeyReused", "the key was first used with another request body");
    }
    if (entry.state === "pending") {
      throw new HttpProblem("idempotencyKeyInUse", undefined, { headers: { "Retry-After": "1" } });
    }
    try {
      const token = unseal(this.mac("seal", scope, key), entry.sealedToken, binding(entry.jobId, scope));
      return { kind: "replay", jobId: entry.jobId, token };
    } catch (err) {
      // Only a record written elsewhere (or altered in Redis) fails to open: refuse, never guess.
      this.log.error("an idempotency record does not open", { redisKey, error: String(err) });
      throw new HttpProblem("internal", "the record of this Idempotency-Key cannot be used; send another key");
    }
  }

  /** HMAC-SHA256 under the server secret of `purpose` and `parts` (JSON: no ambiguous joins). */
  private mac(purpose: string, ...parts: string[]): Buffer {
    return createHmac("sha256", this.secret)
      .update(JSON.stringify([purpose, ...parts]))
      .digest();
  }
}

/** The associated data a sealed token is bound to. */
const binding = (jobId: string, scope: string): Buffer => Buffer.from(JSON.stringify([jobId, scope]));

function seal(key: Buffer, token: string, aad: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv).setAAD(aad);
  const data = Buffer.concat([cipher.update(token, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), data]).toString("base64url");
}

function unseal(key: Buffer, sealed: string, aad: Buffer): string {
  const raw = Buffer.from(sealed, "base64url");
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12), { authTagLength: 16 }).setAAD(aad);
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
}
