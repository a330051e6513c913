// Issue 4, API side, against the real brokers: submit credentials (API keys, JWT) and owner reads
// on every channel, Idempotency-Key, Redis-backed rate limits across instances, the in-flight
// bound, queue backpressure, and socket flood limits.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { clientSends, startFreezeProxy } from "../helpers/freeze-proxy.ts";
import { bearer, postJob, request } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { connectSocket, readSse } from "../helpers/realtime.ts";
import { jobKeyPattern } from "../helpers/redis-keys.ts";
import { AMQP_URL, noLimits, randomNamespace, type Stack, startStack } from "../helpers/stack.ts";

const aliceKey = "alice-key-0123456789abcdef";
const bobKey = "bob-key-0123456789abcdef";
const jwtSecret = "a-test-secret-that-is-long-enough-0123456789";
const demo = { type: "demo", payload: { steps: 1, stepMs: 0 } };

async function jwtFor(sub: string, expiresIn = "5m"): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(jwtSecret));
}

describe("submit guards", function () {
  this.timeout(30_000);

  describe("credentials", () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ env: { API_KEYS: `alice:${aliceKey},bob:${bobKey}`, JWT_SECRET: jwtSecret } });
    });
    after(() => stack?.close());

    it("submitting needs a valid API key or JWT when credentials are configured", async () => {
      const none = await postJob(stack.baseUrl, demo);
      expect(none.status).to.equal(401);
      expect((none.body as { type: string }).type).to.equal("urn:herald:problem:unauthorized");
      expect((await postJob(stack.baseUrl, demo, { "x-api-key": "not-a-key-at-all-1234" })).status).to.equal(401);
      expect((await postJob(stack.baseUrl, demo, bearer(await jwtFor("carol", "-1m")))).status).to.equal(
        401,
        "expired JWT",
      );
      const forged = await new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("carol")
        .sign(new TextEncoder().encode("x".repeat(40)));
      expect((await postJob(stack.baseUrl, demo, bearer(forged))).status).to.equal(401, "JWT signed with another key");
      expect((await postJob(stack.baseUrl, demo, { "x-api-key": aliceKey })).status).to.equal(202);
      expect((await postJob(stack.baseUrl, demo, bearer(await jwtFor("carol")))).status).to.equal(202);
    });

    it("the owner reads its jobs with its credential on HTTP, SSE and Socket.IO; others cannot", async () => {
      const accepted = (await postJob(stack.baseUrl, demo, { "x-api-key": aliceKey })).body as JobView & {
        token: string;
      };
      const status = await request<JobView>(`${stack.baseUrl}/jobs/${accepted.id}`, {
        headers: { "x-api-key": aliceKey },
      });
      expect(status.status).to.be.oneOf([200, 303]);
      expect(status.body.id).to.equal(accepted.id);
      expect(
        (await request(`${stack.baseUrl}/jobs/${accepted.id}`, { headers: { "x-api-key": bobKey } })).status,
      ).to.equal(404);
      expect(
        (await request(`${stack.baseUrl}/jobs/${accepted.id}`, { headers: bearer(accepted.token) })).status,
      ).to.be.oneOf([200, 303]);
      const sse = await readSse(`${stack.baseUrl}/jobs/${accepted.id}/events`, { "x-api-key": aliceKey });
      expect(sse.status).to.equal(200);
      expect(sse.events.at(-1)?.view.id).to.equal(accepted.id);
      expect((await readSse(`${stack.baseUrl}/jobs/${accepted.id}/events`, { "x-api-key": bobKey })).status).to.equal(
        404,
      );

      const socket = await connectSocket(stack.baseUrl, { auth: { credential: aliceKey } });
      const bobSocket = await connectSocket(stack.baseUrl, { auth: { credential: bobKey } });
      try {
        const mine = await socket.timeout(5_000).emitWithAck("subscribe", { jobId: accepted.id });
        expect(mine.ok).to.equal(true);
        const theirs = await bobSocket.timeout(5_000).emitWithAck("subscribe", { jobId: accepted.id });
        expect(!theirs.ok && theirs.error.type).to.equal("urn:herald:problem:not-found");
      } finally {
        socket.close();
        bobSocket.close();
      }

      const carolJwt = await jwtFor("carol");
      const carols = (await postJob(stack.baseUrl, demo, bearer(carolJwt))).body as JobView;
      expect((await request(`${stack.baseUrl}/jobs/${carols.id}`, { headers: bearer(carolJwt) })).status).to.be.oneOf([
        200, 303,
      ]);
      expect(
        (await request(`${stack.baseUrl}/jobs/${carols.id}`, { headers: bearer(await jwtFor("dave")) })).status,
      ).to.equal(404);
    });

    it("Idempotency-Key is scoped by the submitter", async () => {
      const key = `k-${Date.now()}`;
      const a = (await postJob(stack.baseUrl, demo, { "x-api-key": aliceKey, "idempotency-key": key })).body as JobView;
      const b = (await postJob(stack.baseUrl, demo, { "x-api-key": bobKey, "idempotency-key": key })).body as JobView;
      expect(a.id).to.not.equal(b.id);
    });
  });

  describe("JWTs verified against a JWKS, with issuer and audience", () => {
    let stack: Stack;
    let jwks: Server;
    let privateKey: CryptoKey;
    before(async () => {
      const pair = await generateKeyPair("ES256");
      privateKey = pair.privateKey;
      const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
      jwks = createServer((_, res) => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ keys: [jwk] }));
      });
      await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
      const { port } = jwks.address() as AddressInfo;
      stack = await startStack({
        env: {
          JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`,
          JWT_ISSUER: "https://issuer.test",
          JWT_AUDIENCE: "herald",
        },
      });
    });
    after(async () => {
      await stack?.close();
      jwks?.close();
    });

    const sign = (claims: { iss?: string; aud?: string; sub?: string }) => {
      let jwt = new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuedAt().setExpirationTime("5m");
      if (claims.sub) jwt = jwt.setSubject(claims.sub);
      if (claims.iss) jwt = jwt.setIssuer(claims.iss);
      if (claims.aud) jwt = jwt.setAudience(claims.aud);
      return jwt.sign(privateKey);
    };

    it("accepts a token signed by a key of the JWKS with the right issuer and audience, and nothing else", async () => {
      const good = await sign({ sub: "erin", iss: "https://issuer.test", aud: "herald" });
      const accepted = await postJob(stack.baseUrl, demo, bearer(good));
      expect(accepted.status).to.equal(202);
      const id = (accepted.body as JobView).id;
      expect((await request(`${stack.baseUrl}/jobs/${id}`, { headers: bearer(good) })).status).to.be.oneOf([200, 303]);
      for (const bad of [
        await sign({ sub: "erin", iss: "https://other.test", aud: "herald" }),
        await sign({ sub: "erin", iss: "https://issuer.test", aud: "someone-else" }),
        await sign({ iss: "https://issuer.test", aud: "herald" }), // no subject
      ]) {
        expect((await postJob(stack.baseUrl, demo, bearer(bad))).status).to.equal(401);
      }
      const otherKey = (await generateKeyPair("ES256")).privateKey;
      const forged = await new SignJWT({})
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setSubject("erin")
        .setIssuer("https://issuer.test")
        .setAudience("herald")
        .setExpirationTime("5m")
        .sign(otherKey);
      expect((await postJob(stack.baseUrl, demo, bearer(forged))).status).to.equal(401);
    });
  });

  describe("Idempotency-Key", () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ env: noLimits });
    });
    after(() => stack?.close());

    it("the same key and body return the same job: id, Location and token", async () => {
      const key = crypto.randomUUID();
      const first = await postJob(stack.baseUrl, demo, { "idempotency-key": key });
      const again = await postJob(stack.baseUrl, demo, { "idempotency-key": key });
      expect(first.status).to.equal(202);
      expect(again.status).to.equal(202);
      const f = first.body as JobView & { token: string };
      const g = again.body as JobView & { token: string };
      expect(g.id).to.equal(f.id);
      expect(g.token).to.equal(f.token);
      expect(again.headers.get("location")).to.equal(first.headers.get("location"));
      expect(again.headers.get("idempotent-replayed")).to.equal("true");
      // Only a hash of the key and a sealed token are stored.
      const keys = await stack.redis.keys(`${stack.names.namespace}:idem:*`);
      const stored = await Promise.all(keys.map((k) => stack.redis.get(k)));
      expect(JSON.stringify([keys, stored]))
        .to.not.include(key)
        .and.not.include(f.token);
    });

    it("the same key with another body is a 422; a bad key is a 400", async () => {
      const key = crypto.randomUUID();
      expect((await postJob(stack.baseUrl, demo, { "idempotency-key": key })).status).to.equal(202);
      const other = await postJob(stack.baseUrl, { type: "demo", payload: { steps: 2 } }, { "idempotency-key": key });
      expect(other.status).to.equal(422);
      expect((other.body as { type: string }).type).to.equal("urn:herald:problem:idempotency-key-reused");
      const bad = await postJob(stack.baseUrl, demo, { "idempotency-key": "x".repeat(300) });
      expect(bad.status).to.equal(400);
    });

    it("concurrent requests with one key create one job; the others get 409 or the same job", async () => {
      const key = crypto.randomUUID();
      const replies = await Promise.all(
        [1, 2, 3, 4, 5].map(() => postJob(stack.baseUrl, demo, { "idempotency-key": key })),
      );
      const statuses = replies.map((r) => r.status);
      expect(statuses.every((s) => s === 202 || s === 409)).to.equal(true, String(statuses));
      const ids = new Set(replies.filter((r) => r.status === 202).map((r) => (r.body as JobView).id));
      expect(ids.size).to.equal(1);
      // Which of them meet the first one in progress depends on timing; the 409 itself is shown
      // deterministically in the next test.
      for (const conflict of replies.filter((r) => r.status === 409))
        expect((conflict.body as { type: string }).type).to.equal("urn:herald:problem:idempotency-key-in-use");
      const jobKeys = await stack.redis.keys(jobKeyPattern(stack.names.namespace));
      const matching = (await Promise.all(jobKeys.map((k) => stack.redis.get(k)))).filter((r) =>
        r?.includes([...ids][0] ?? "?"),
      );
      expect(matching.length).to.equal(1);
    });

    it("while the first request with a key is in progress, another is a 409; once it is refused, the key is free", async function () {
      this.timeout(90_000);
      // The first request is held in progress for certain: the broker gets its message but its
      // confirm is withheld (a freezing proxy on the API's RabbitMQ link) until the publish times out.
      const proxy = await startFreezeProxy({ port: Number(new URL(AMQP_URL).port || 5672) });
      let held: Stack | undefined;
      try {
        held = await startStack({
          workers: 0,
          apiAmqpUrl: `amqp://guest:guest@127.0.0.1:${proxy.port}`,
          publishTimeoutMs: 10_000,
          env: { ...noLimits, MAX_QUEUE_DEPTH: "0" },
        });
        // One job first, so the API's publish channel is open before the broker stalls.
        expect((await postJob(held.baseUrl, demo)).status).to.equal(202);
        const key = crypto.randomUUID();
        const body = { type: "demo", payload: { steps: 3, stepMs: 0 } };
        proxy.freeze();
        const published = clientSends(proxy, '"steps":3');
        const first = postJob(held.baseUrl, body, { "idempotency-key": key });
        await published; // the first request has claimed the key and now waits for the confirm
        const second = await postJob(held.baseUrl, body, { "idempotency-key": key });
        expect(second.status).to.equal(409);
        expect((second.body as { type: string }).type).to.equal("urn:herald:problem:idempotency-key-in-use");
        expect(Number(second.headers.get("retry-after"))).to.be.greaterThan(0);
        expect((await first).status).to.equal(503, "the confirm never came");
        proxy.thaw();
        // The refused request gave its key back: the client's retry with the same key is a new job.
        const retry = await pollUntil(
          async () => {
            const r = await postJob(held?.baseUrl ?? "", body, { "idempotency-key": key });
            return r.status === 202 ? r : undefined;
          },
          { timeoutMs: 30_000, everyMs: 200, what: "the retry with the same key to be accepted" },
        );
        expect(retry.headers.get("idempotent-replayed")).to.equal(null);
      } finally {
        proxy.thaw();
        await held?.close();
        await proxy.close();
      }
    });

    it("after IDEMPOTENCY_TTL_SECONDS the key is forgotten: the same key and body make a new job", async () => {
      const ttlSeconds = 3;
      const short = await startStack({ workers: 0, env: { ...noLimits, IDEMPOTENCY_TTL_SECONDS: String(ttlSeconds) } });
      try {
        const key = crypto.randomUUID();
        const first = await postJob(short.baseUrl, demo, { "idempotency-key": key });
        const acceptedAt = Date.now();
        expect(first.status).to.equal(202);
        const firstJob = first.body as JobView & { token: string };
        const replay = await postJob(short.baseUrl, demo, { "idempotency-key": key });
        expect((replay.body as JobView).id).to.equal(firstJob.id, "remembered within the TTL");
        expect(replay.headers.get("idempotent-replayed")).to.equal("true");
        const fresh = await pollUntil(
          async () => {
            const r = await postJob(short.baseUrl, demo, { "idempotency-key": key });
            return (r.body as JobView).id !== firstJob.id ? r : undefined;
          },
          { timeoutMs: ttlSeconds * 1000 + 30_000, everyMs: 250, what: "the key to be forgotten" },
        );
        expect(Date.now() - acceptedAt).to.be.at.least(ttlSeconds * 1000 - 50, "not before the TTL");
        expect(fresh.status).to.equal(202);
        expect(fresh.headers.get("idempotent-replayed")).to.equal(null);
        expect((fresh.body as { token: string }).token).to.not.equal(firstJob.token);
      } finally {
        await short.close();
      }
    });
  });

  describe("limits", () => {
    it("the submit rate limit is shared by every instance: what one counted, another refuses", async () => {
      const namespace = randomNamespace();
      // Clients are API-key subjects, so a retry (below) can start from a fresh count.
      const subjects = ["c1", "c2", "c3"].map((sub) => [sub, `${sub}-key-0123456789abcdef`] as const);
      const env = {
        RATE_LIMIT_SUBMIT_PER_MINUTE: "3",
        MAX_JOBS_IN_FLIGHT: "0",
        API_KEYS: subjects.map(([sub, key]) => `${sub}:${key}`).join(","),
      };
      const a = await startStack({ namespace, env, workers: 0 });
      const b = await startStack({ namespace, env, workers: 0 }).catch(async (err: unknown) => {
        await a.close();
        throw err;
      });
      try {
        // A per-instance limiter would let B accept 3 more: B must refuse, having counted nothing itself.
        const minute = () => Math.floor(Date.now() / 60_000);
        for (const [sub, key] of subjects) {
          const window = minute();
          const onA = [];
          for (let i = 0; i < 3; i++) onA.push(await postJob(a.baseUrl, demo, { "x-api-key": key }));
          const onB = await postJob(b.baseUrl, demo, { "x-api-key": key });
          // The limit counts per minute: a new minute starting in between resets it (try the next client).
          if (minute() !== window && sub !== "c3") continue;
          expect(onA.map((r) => r.status)).to.deep.equal([202, 202, 202], "the first three anywhere pass");
          expect(onB.status).to.equal(429, "B knows what A counted");
          expect((onB.body as { type?: string }).type).to.equal("urn:herald:problem:rate-limited");
          expect(Number(onB.headers.get("retry-after"))).to.be.within(1, 60);
          expect((await postJob(a.baseUrl, demo, { "x-api-key": key })).status).to.equal(429, "and A what B counted");
          return;
        }
      } finally {
        await b.close();
        await a.close();
      }
    });

    it("the read rate limit answers 429 past its bound", async () => {
      const stack = await startStack({ env: { RATE_LIMIT_READ_PER_MINUTE: "4" } });
      try {
        const job = (await postJob(stack.baseUrl, demo)).body as JobView & { token: string };
        const statuses: number[] = [];
        for (let i = 0; i < 9; i++)
          statuses.push((await request(`${stack.baseUrl}/jobs/${job.id}`, { headers: bearer(job.token) })).status);
        expect(statuses).to.include(429);
      } finally {
        await stack.close();
      }
    });

    it("a client may have at most MAX_JOBS_IN_FLIGHT unfinished jobs", async () => {
      const stack = await startStack({ env: { MAX_JOBS_IN_FLIGHT: "2" } });
      try {
        const slow = { type: "demo", payload: { steps: 1, stepMs: 10_000 } };
        const jobs = [await postJob(stack.baseUrl, slow), await postJob(stack.baseUrl, slow)];
        expect(jobs.map((j) => j.status)).to.deep.equal([202, 202]);
        const third = await postJob(stack.baseUrl, slow);
        expect(third.status).to.equal(429);
        expect((third.body as { type: string }).type).to.equal("urn:herald:problem:too-many-jobs-in-flight");
        for (const j of jobs) {
          const { id, token } = j.body as JobView & { token: string };
          await request(`${stack.baseUrl}/jobs/${id}`, { method: "DELETE", headers: bearer(token) });
        }
        // Once they are canceled (terminal: their worker aborts them), the client may submit again.
        const again = await pollUntil(
          async () => {
            const r = await postJob(stack.baseUrl, demo);
            return r.status === 429 ? undefined : r;
          },
          { timeoutMs: 30_000, everyMs: 100, what: "a submit after the cancels" },
        );
        expect(again.status).to.equal(202);
      } finally {
        await stack.close();
      }
    });

    it("past MAX_QUEUE_DEPTH, POST answers 503 queue-full instead of accepting", async () => {
      const stack = await startStack({ workers: 0, env: { MAX_QUEUE_DEPTH: "3" } });
      try {
        const replies = [];
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          const r = await postJob(stack.baseUrl, demo);
          replies.push(r);
          if (r.status !== 202) break;
          await new Promise((resolve) => setTimeout(resolve, 100)); // pace: the depth is sampled once a second
        }
        const refused = replies.at(-1);
        expect(refused?.status).to.equal(503);
        expect((refused?.body as { type?: string } | undefined)?.type).to.equal("urn:herald:problem:queue-full");
        expect(refused?.headers.get("retry-after")).to.equal("5");
        expect(await stack.apiQueue.depth()).to.be.at.least(3);
      } finally {
        await stack.close();
      }
    });

    it("a socket that floods is refused, then disconnected; the instance keeps serving", async () => {
      const stack = await startStack({ env: { SOCKET_EVENTS_PER_SECOND: "5" } });
      try {
        const socket = await connectSocket(stack.baseUrl);
        const disconnected = new Promise<string>((resolve) => socket.on("disconnect", resolve));
        const replies = await Promise.all(
          Array.from({ length: 20 }, () =>
            socket.timeout(5_000).emitWithAck("subscribe", { jobId: crypto.randomUUID(), token: "t" }),
          ),
        );
        const limited = replies.filter((r) => !r.ok && r.error.type === "urn:herald:problem:rate-limited");
        expect(limited.length).to.be.at.least(5);
        for (let i = 0; i < 80; i++) socket.emit("unsubscribe", { jobId: crypto.randomUUID() });
        expect(await disconnected).to.equal("io server disconnect");
        expect((await postJob(stack.baseUrl, demo)).status).to.equal(202);
      } finally {
        await stack.close();
      }
    });
  });
});
