// Issue 7 item 12: Idempotency-Keys of anonymous clients are scoped by client (address); Redis
// lookup names and the token's sealing key are HMACs under HERALD_SECRET; the sealed token is bound
// to its job id and scope (AES-GCM associated data). Real API, real Redis; clients differ by their
// loopback source address.
import { createHash } from "node:crypto";
import { expect } from "chai";
import type { AcceptedJob } from "../../shared/jobs/schemas.ts";
import { names } from "../../shared/store/names.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { fetchFrom, pollUntil } from "../helpers/net.ts";
import { type Spawned, spawnGroup } from "../helpers/processes.ts";
import { scanKeys } from "../helpers/redis-keys.ts";
import { log, REDIS_URL, randomNamespace, removeNamespace, type Stack, startStack } from "../helpers/stack.ts";

const secret = "issue-7-item-12-test-secret-0123456789abcdef";
const demo = { type: "demo", payload: { steps: 1, stepMs: 0 } };

interface Reply {
  status: number;
  body: AcceptedJob & { type?: string };
  replayed: string | null;
}

async function post(ip: string, base: string, key: string, body: unknown = demo): Promise<Reply> {
  const res = await fetchFrom(ip, `${base}/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as Reply["body"],
    replayed: res.headers.get("idempotent-replayed"),
  };
}

/** Every idempotency record of the namespace: Redis key → stored value. */
async function records(stack: Stack): Promise<Map<string, string>> {
  const keys = await scanKeys(stack.redis, `${stack.names.namespace}:idem:*`);
  return new Map(await Promise.all(keys.map(async (k) => [k, (await stack.redis.get(k)) ?? ""] as const)));
}

/** The Redis key of the record that points at `jobId`. */
async function recordOf(stack: Stack, jobId: string): Promise<string> {
  const found = [...(await records(stack))].find(([, v]) => v.includes(jobId));
  if (!found) throw new Error(`no idempotency record for ${jobId}`);
  return found[0];
}

describe("issue 7 item 12: Idempotency-Keys scoped by client, names and seals under HERALD_SECRET", function () {
  this.timeout(60_000);

  describe("one instance", () => {
    let stack: Stack | undefined;
    before(async () => {
      stack = await startStack({ env: { HERALD_SECRET: secret } });
    });
    after(() => stack?.close());

    it("another anonymous client with the same key and body gets a new job, not the first one's", async () => {
      if (!stack) throw new Error("setup failed");
      const key = crypto.randomUUID();
      const a = await post("127.0.0.1", stack.baseUrl, key);
      const b = await post("127.0.0.2", stack.baseUrl, key);
      expect([a.status, b.status]).to.deep.equal([202, 202]);
      expect(b.body.id).to.not.equal(a.body.id);
      expect(b.body.token).to.not.equal(a.body.token);
      expect(b.replayed).to.equal(null);
      // Each client still replays its own job.
      const again = await post("127.0.0.1", stack.baseUrl, key);
      expect([again.status, again.body.id, again.body.token, again.replayed]).to.deep.equal([
        202,
        a.body.id,
        a.body.token,
        "true",
      ]);
    });

    it("Redis holds neither the key, nor its plain hash, nor the token", async () => {
      if (!stack) throw new Error("setup failed");
      const key = `order-${crypto.randomUUID()}`;
      const a = await post("127.0.0.3", stack.baseUrl, key);
      expect(a.status).to.equal(202);
      const stored = JSON.stringify([...(await records(stack))]);
      const sha = createHash("sha256").update(key).digest("hex");
      expect(stored).to.include(a.body.id);
      expect(stored).to.not.include(key).and.not.include(sha).and.not.include(a.body.token);
    });

    it("a sealed entry moved to another scope, or pointed at another job, does not open", async () => {
      if (!stack) throw new Error("setup failed");
      const key = crypto.randomUUID();
      const a = await post("127.0.0.4", stack.baseUrl, key);
      const b = await post("127.0.0.5", stack.baseUrl, key);
      expect([a.status, b.status]).to.deep.equal([202, 202]);
      expect(b.body.id).to.not.equal(a.body.id);
      const [aKey, bKey] = [await recordOf(stack, a.body.id), await recordOf(stack, b.body.id)];
      const aEntry = (await stack.redis.get(aKey)) ?? "";

      // A's sealed entry copied into B's scope: B must not get A's job and token.
      await stack.redis.set(bKey, aEntry, { expiration: { type: "EX", value: 600 } });
      const moved = await post("127.0.0.5", stack.baseUrl, key);
      expect(moved.status).to.equal(500);
      expect(JSON.stringify(moved.body)).to.not.include(a.body.token);

      // A's entry pointed at B's job: A must not get B's job with its own token.
      await stack.redis.set(aKey, aEntry.replace(a.body.id, b.body.id), { expiration: { type: "EX", value: 600 } });
      const repointed = await post("127.0.0.4", stack.baseUrl, key);
      expect(repointed.status).to.equal(500);
      expect(JSON.stringify(repointed.body)).to.not.include(b.body.id);
    });
  });

  describe("two instances", () => {
    const namespace = randomNamespace();
    const stacks: Stack[] = [];
    after(async () => {
      for (const s of stacks.reverse()) await s.close();
    });

    it("replay works across two API instances with the same HERALD_SECRET, not with another", async () => {
      // No workers: the first stack closed removes the shared namespace's queues.
      stacks.push(await startStack({ namespace, workers: 0, env: { HERALD_SECRET: secret } }));
      stacks.push(await startStack({ namespace, workers: 0, env: { HERALD_SECRET: secret } }));
      stacks.push(await startStack({ namespace, workers: 0, env: { HERALD_SECRET: `other-${secret}` } }));
      const [a, b, other] = stacks;
      if (!a || !b || !other) throw new Error("setup failed");
      const key = crypto.randomUUID();
      const first = await post("127.0.0.6", a.baseUrl, key);
      const replay = await post("127.0.0.6", b.baseUrl, key);
      expect(first.status).to.equal(202);
      expect([replay.status, replay.body.id, replay.body.token, replay.replayed]).to.deep.equal([
        202,
        first.body.id,
        first.body.token,
        "true",
      ]);
      // Names derive from the secret: an instance with another one does not find the record.
      const elsewhere = await post("127.0.0.6", other.baseUrl, key);
      expect(elsewhere.status).to.equal(202);
      expect(elsewhere.body.id).to.not.equal(first.body.id);
    });
  });

  describe("start-up", () => {
    const namespace = randomNamespace();
    const procs: Spawned[] = [];
    after(async () => {
      for (const p of procs) {
        p.signalGroup("SIGTERM");
        await p.exited;
      }
      const redis = await connectRedis(REDIS_URL, log, 5_000);
      try {
        await removeNamespace(names(namespace), redis);
      } finally {
        await redis.close();
      }
    });

    /** Starts a real API process and returns its stderr once it listens. */
    async function startupLog(env: Record<string, string>): Promise<string> {
      const p = spawnGroup("node", ["--import", "tsx", "services/api/main.ts"], {
        HOST: "127.0.0.1",
        PORT: "0",
        HERALD_NAMESPACE: namespace,
        LOG_LEVEL: "info",
        ...env,
      });
      procs.push(p);
      await pollUntil(() => p.stderr().includes("api listening") || p.child.exitCode !== null, {
        timeoutMs: 30_000,
        what: "the API to listen",
      });
      expect(p.child.exitCode, p.stderr()).to.equal(null);
      return p.stderr();
    }

    it("the API warns when HERALD_SECRET is unset, and not when it is set", async () => {
      const unset = await startupLog({ HERALD_SECRET: "" });
      const warning = unset.split("\n").find((l) => l.includes("HERALD_SECRET"));
      expect(warning, unset).to.be.a("string");
      expect(JSON.parse(warning ?? "{}").level).to.equal("warn");
      expect(await startupLog({ HERALD_SECRET: secret })).to.not.include("HERALD_SECRET");
    });
  });
});
