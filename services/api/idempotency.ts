// Idempotency-Key on POST /jobs (IETF httpapi draft): the same key and body within the window
// return the same job — id, Location and token; another body is a 422; a key whose first request
// is still in progress is a 409. Keys are scoped by the submitter (or shared when anonymous).
//
// The job token must come back on a replay but is stored nowhere in clear: it is sealed with
// AES-GCM under a key derived from the Idempotency-Key, which only the client knows (Redis holds
// a hash of it).
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import type { Names } from "../../shared/names.ts";
import { HttpProblem } from "../../shared/problems.ts";
import type { RedisClient } from "../../shared/redis-job-store.ts";

/** How long a claim may stay "in progress" (a crashed instance's claim lapses after this). */
const pendingMs = 60_000;

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

export class IdempotencyStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly names: Names,
    private readonly ttlSeconds: number,
  ) {}

  static validKey(key: string): boolean {
    return /^[\x21-\x7e]{1,255}$/.test(key);
  }

  /** Claims `key` for this request, or returns the job an earlier identical request created. */
  async claim(scope: string, key: string, body: string): Promise<Claim> {
    if (!IdempotencyStore.validKey(key)) {
      throw new HttpProblem("invalidIdempotencyKey", "1 to 255 visible ASCII characters");
    }
    const redisKey = this.names.idempotencyKey(scope, sha256hex(key));
    const bodyHash = sha256hex(body);
    const pending: Pending = { state: "pending", bodyHash };
    const claimed = await this.redis.set(redisKey, JSON.stringify(pending), {
      condition: "NX",
      expiration: { type: "PX", value: pendingMs },
    });
    if (claimed === "OK") {
      return {
        kind: "new",
        complete: async (jobId, token) => {
          const done: Done = { state: "done", bodyHash, jobId, sealedToken: seal(key, token) };
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
    return { kind: "replay", jobId: entry.jobId, token: unseal(key, entry.sealedToken) };
  }
}

function sha256hex(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

function keyFor(idempotencyKey: string): Buffer {
  return Buffer.from(hkdfSync("sha256", idempotencyKey, "herald", "job-token", 32));
}

function seal(idempotencyKey: string, token: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyFor(idempotencyKey), iv);
  const data = Buffer.concat([cipher.update(token, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), data]).toString("base64url");
}

function unseal(idempotencyKey: string, sealed: string): string {
  const raw = Buffer.from(sealed, "base64url");
  const decipher = createDecipheriv("aes-256-gcm", keyFor(idempotencyKey), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
}
