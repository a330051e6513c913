// Issue 11, "For operators": the operator page at /admin and its JSON API, behind ADMIN_TOKEN.
// Real API and worker (in process) on the real local RabbitMQ and Redis.
import { randomBytes, randomUUID } from "node:crypto";
import { expect } from "chai";
import { RecentJobs } from "../../services/api/admin-jobs.ts";
import { type ApiServer, startApiServer } from "../../services/api/server.ts";
import type { AcceptedJob, JobView } from "../../shared/jobs/schemas.ts";
import { createLogger } from "../../shared/observability/log.ts";
import { loadConfig } from "../../shared/runtime/config.ts";
import { names } from "../../shared/store/names.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import {
  type RedisClient,
  RedisJobStore,
  recentJobsLimit,
  recentJobsPerShard,
} from "../../shared/store/redis-job-store.ts";
import { bearer, getStatus, pollToEnd, type Reply, request, submit, waitForStatus } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import {
  log,
  noLimits,
  REDIS_URL,
  randomNamespace,
  removeNamespace,
  type Stack,
  startStack,
} from "../helpers/stack.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";

const token = randomBytes(24).toString("base64url"); // 32 characters
const P = (name: string) => `urn:herald:problem:${name}`;

interface Letters {
  total: number;
  messages: { jobId: string | null; type: string | null; reason: string | null }[];
}
interface Report {
  replayed: string[];
  kept: { jobId: string | null; reason: string }[];
  dropped: string[];
}

describe("issue 11: the operator page (/admin) and its API", function () {
  this.timeout(60_000);
  let stack: Stack | undefined;
  let off: Stack | undefined;

  before(async () => {
    stack = await startStack({ workers: 1, env: { ...noLimits, ADMIN_TOKEN: token } });
    off = await startStack({ workers: 0, env: noLimits });
  });
  after(async () => {
    await stack?.close();
    await off?.close();
  });

  const base = () => {
    if (!stack) throw new Error("setup failed");
    return stack.baseUrl;
  };
  const admin = <T>(path: string, init: RequestInit = {}): Promise<Reply<T>> =>
    request<T>(`${base()}${path}`, { ...init, headers: { ...bearer(token), ...init.headers } });
  const jobsWhere = async (query: string): Promise<JobView[]> => {
    const reply = await admin<{ jobs: JobView[] }>(`/admin/api/jobs?${query}`);
    expect(reply.status, JSON.stringify(reply.body)).to.equal(200);
    return reply.body.jobs;
  };
  const replay = (body: unknown) =>
    admin<Report>("/admin/api/dead-letters/replay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const endOf = async (job: AcceptedJob): Promise<JobView> => (await pollToEnd(base(), job)).at(-1)?.body as JobView;

  it("ADMIN_TOKEN unset: /admin and /admin/api/… are 404 problems that say how to enable them", async () => {
    if (!off) throw new Error("setup failed");
    for (const path of ["/admin", "/admin/api/jobs", "/admin/api/dead-letters"]) {
      const reply = await request<{ type: string; detail: string }>(`${off.baseUrl}${path}`, {
        headers: bearer(token),
      });
      expect(reply.status, path).to.equal(404);
      expect(reply.contentType).to.include("application/problem+json");
      expect(reply.body.type).to.equal(P("not-found"));
      expect(reply.body.detail).to.include("ADMIN_TOKEN");
    }
  });

  it("needs the credential on the page and on every API call: 401 without, 403 with a wrong one, 200 with it", async () => {
    const calls: [string, RequestInit][] = [
      ["/admin", {}],
      ["/admin/api/jobs", {}],
      ["/admin/api/stats", {}],
      ["/admin/api/dead-letters", {}],
      [
        "/admin/api/dead-letters/replay",
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jobIds: [randomUUID()] }),
        },
      ],
    ];
    const wrongSameLength = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
    for (const [path, init] of calls) {
      const headers = (init.headers ?? {}) as Record<string, string>;
      const none = await request(`${base()}${path}`, init);
      expect(none.status, `${path} without`).to.equal(401);
      expect(none.headers.get("www-authenticate"), path).to.match(/^Bearer /);
      for (const wrong of [wrongSameLength, "short", `${token}x`]) {
        const reply = await request<{ type?: string }>(`${base()}${path}`, {
          ...init,
          headers: { ...headers, ...bearer(wrong) },
        });
        expect(reply.status, `${path} with a wrong token`).to.equal(403);
        if (path !== "/admin") expect(reply.body.type).to.equal(P("forbidden"));
      }
      const right = await request(`${base()}${path}`, { ...init, headers: { ...headers, ...bearer(token) } });
      expect(right.status, `${path} with the token`).to.equal(200);
      expect(right.headers.get("cache-control"), path).to.equal("no-store");
      if (path !== "/admin") {
        expect(none.contentType, path).to.include("application/problem+json");
        expect((none.body as { type: string }).type).to.equal(P("unauthorized"));
      }
    }
    // The page itself is only a shell: the 401 shows the login form and no data.
    const page = await request<string>(`${base()}/admin`);
    expect(page.contentType).to.include("text/html");
    expect(page.body).to.include('id="login"');
    expect(page.headers.get("content-security-policy")).to.include("script-src 'nonce-");
  });

  it("lists recent jobs newest first, by status, by type and by id, bounded by limit", async () => {
    const ok = await submit(base(), "demo", { steps: 1, stepMs: 0 });
    const bad = await submit(base(), "demo", { steps: 2, stepMs: 0, fail: "boom" });
    const csv = await submit(base(), "csv-summary", { csv: "a,b\n1,2\n" });
    const long = await submit(base(), "demo", { steps: 200, stepMs: 100 });
    try {
      expect((await endOf(ok)).status).to.equal("succeeded");
      expect((await endOf(bad)).status).to.equal("failed");
      expect((await endOf(csv)).status).to.equal("succeeded");
      await waitForStatus(base(), long, (r) => r.body.status === "running", { what: "running" });

      const all = await jobsWhere("");
      // Newest first (by createdAt; jobs created in the same millisecond may come in either order).
      expect(all.map((j) => j.id).slice(0, 4)).to.have.members([long.id, csv.id, bad.id, ok.id]);
      const created = all.map((j) => Date.parse(j.createdAt));
      expect(created).to.deep.equal([...created].sort((a, b) => b - a));
      expect(JSON.stringify(all)).not.to.include("tokenHash");
      expect((await jobsWhere("limit=1")).map((j) => j.id)).to.deep.equal([all[0]?.id]);
      expect((await jobsWhere("limit=3")).map((j) => j.id)).to.deep.equal(all.slice(0, 3).map((j) => j.id));

      const failed = await jobsWhere("status=failed");
      expect(failed.map((j) => j.id)).to.include(bad.id);
      expect(failed.every((j) => j.status === "failed")).to.equal(true);
      expect(failed.map((j) => j.id)).not.to.include(ok.id);
      const running = await jobsWhere("status=running");
      expect(running.map((j) => j.id)).to.deep.equal([long.id]);
      const csvJobs = await jobsWhere("type=csv-summary");
      expect(csvJobs.map((j) => j.id)).to.deep.equal([csv.id]);
      const succeededDemo = await jobsWhere("type=demo&status=succeeded");
      expect(succeededDemo.map((j) => j.id)).to.include(ok.id);
      expect(succeededDemo.map((j) => j.id)).not.to.include(csv.id);

      const byId = await jobsWhere(`id=${bad.id}`);
      expect(byId).to.have.length(1);
      expect(byId[0]).to.include({ id: bad.id, type: "demo", status: "failed" });
      expect(byId[0]?.error?.detail).to.include("boom");
      expect(await jobsWhere(`id=${randomUUID()}`)).to.deep.equal([]);
      expect(await jobsWhere(`id=${bad.id}&status=succeeded`)).to.deep.equal([]);

      const stats = await admin<{
        queueDepth: number | null;
        deadLetters: number | null;
        rates: { accepted: number; succeeded: number; failed: number; windowSeconds: number };
      }>("/admin/api/stats");
      expect(stats.status).to.equal(200);
      expect(stats.body.queueDepth).to.be.a("number");
      expect(stats.body.deadLetters).to.be.a("number");
      expect(stats.body.rates.windowSeconds).to.equal(60);
      expect(stats.body.rates.accepted).to.be.at.least(4);
      expect(stats.body.rates.succeeded).to.be.at.least(2);
      expect(stats.body.rates.failed).to.be.at.least(1);
    } finally {
      await request(`${base()}/jobs/${long.id}`, { method: "DELETE", headers: bearer(long.token) });
    }
  });

  it("lists a failed job's dead letter and replays it through the API: the job runs again", async () => {
    const job = await submit(base(), "demo", { steps: 2, stepMs: 0, fail: "boom" });
    const first = await endOf(job);
    expect(first.status).to.equal("failed");
    const letters = await pollUntil(
      async () => {
        const r = await admin<Letters>("/admin/api/dead-letters");
        return r.body.messages.some((m) => m.jobId === job.id) ? r.body : null;
      },
      { timeoutMs: 15_000, what: "the job's dead letter listed" },
    );
    expect(letters.total).to.be.at.least(1);
    expect(letters.messages.find((m) => m.jobId === job.id)).to.include({ type: "demo", reason: "rejected" });
    // Listing leaves the letters where they are.
    expect((await admin<Letters>("/admin/api/dead-letters")).body.messages.map((m) => m.jobId)).to.include(job.id);

    const report = await replay({ jobIds: [job.id] });
    expect(report.status, JSON.stringify(report.body)).to.equal(200);
    expect(report.body.replayed).to.deep.equal([job.id]);

    // It runs again (and, `fail` being permanent, fails again): a later attempt than the first.
    const again = await pollUntil(
      async () => {
        const r = await getStatus(base(), job);
        return r.body.status === "failed" && r.body.version > first.version ? r.body : null;
      },
      { timeoutMs: 20_000, what: "the replayed job failed again" },
    );
    expect(Date.parse(again.startedAt ?? "")).to.be.greaterThan(Date.parse(first.finishedAt ?? ""));
    expect(again.attempts).to.equal(1);
  });

  it("bad queries and bodies answer 400 problems", async () => {
    for (const query of [
      "status=bogus",
      "id=not-a-uuid",
      "limit=0",
      "limit=201",
      "limit=ten",
      "type=%3Cscript%3E",
      "unknown=1",
      "status=failed&status=queued",
    ]) {
      const reply = await admin<{ type: string; status: number }>(`/admin/api/jobs?${query}`);
      expect(reply.status, query).to.equal(400);
      expect(reply.contentType, query).to.include("application/problem+json");
      expect(reply.body.type, query).to.equal(P("invalid-parameters"));
    }
    expect((await admin("/admin/api/dead-letters?limit=1000")).status).to.equal(400);
    expect((await admin("/admin/api/stats?x=1")).status).to.equal(400);
    for (const body of [{}, { jobIds: [] }, { jobIds: ["x"] }, { all: false }, { all: true, jobIds: [randomUUID()] }]) {
      const reply = await replay(body);
      expect(reply.status, JSON.stringify(body)).to.equal(400);
      expect((reply.body as unknown as { type: string }).type).to.equal(P("invalid-parameters"));
    }
  });

  it(`the recent-jobs index keeps only the newest ${recentJobsPerShard} ids of each shard (${recentJobsLimit} in all)`, async () => {
    if (!stack) throw new Error("setup failed");
    const n = names(randomNamespace("admin-index"));
    const store = new RedisJobStore(stack.redis, n, 600);
    try {
      const ids: string[] = [];
      const total = recentJobsLimit + 20;
      for (let i = 0; i < total; i += 1_000) {
        const batch = Array.from({ length: Math.min(1_000, total - i) }, (_, k) => {
          const { record } = newJob("demo");
          // Distinct, increasing createdAt: the oldest are the first 20.
          record.createdAt = new Date(Date.UTC(2026, 0, 1) + i + k).toISOString();
          ids.push(record.id);
          return store.create(record);
        });
        await Promise.all(batch);
      }
      // Each shard keeps its newest ids (ids is oldest first).
      let kept = 0;
      for (const k of n.shards) {
        const mine = ids.filter((id) => n.shardOf(id) === k);
        const stored = await stack.redis.zRange(n.recentJobsKey(k), 0, -1);
        expect(stored, `shard ${k}`).to.deep.equal(mine.slice(-recentJobsPerShard));
        kept += stored.length;
      }
      expect(kept).to.be.at.most(recentJobsLimit);
      // The operator page lists them newest first, merged over the shards.
      const newest = await new RecentJobs(stack.redis, n).list({ limit: 200 });
      const keptIds = new Set(
        n.shards.flatMap((k) => ids.filter((id) => n.shardOf(id) === k).slice(-recentJobsPerShard)),
      );
      expect(newest.map((j) => j.id)).to.deep.equal(
        ids
          .filter((id) => keptIds.has(id))
          .reverse()
          .slice(0, 200),
      );
    } finally {
      await removeNamespace(n, stack.redis);
    }
  });
});

describe("issue 11: the operator token never reaches the logs", function () {
  this.timeout(60_000);
  let stack: Stack | undefined;
  let api: ApiServer | undefined;
  const extra: RedisClient[] = [];
  const lines: string[] = [];

  before(async () => {
    stack = await startStack({ workers: 1, env: noLimits });
    for (let i = 0; i < 3; i++) extra.push(await connectRedis(REDIS_URL, log, 5_000));
    const [changesSub, adapterPub, adapterSub] = extra as [RedisClient, RedisClient, RedisClient];
    const destination = { write: (s: string) => void lines.push(s) };
    // A second API instance on the stack's namespace, logging everything (debug) into `lines`.
    api = await startApiServer(
      loadConfig({
        HOST: "127.0.0.1",
        PORT: "0",
        HERALD_NAMESPACE: stack.names.namespace,
        ADMIN_TOKEN: token,
        ...noLimits,
      }),
      { redis: stack.redis, changesSub, adapterPub, adapterSub, queue: stack.apiQueue },
      createLogger("debug", { service: "api" }, { destination }),
    );
  });
  after(async () => {
    api?.server.closeAllConnections();
    await api?.close();
    for (const c of extra) await c.close();
    await stack?.close();
  });

  it("is not in any log line, whether right, wrong, or replaying", async () => {
    if (!api) throw new Error("setup failed");
    const base = `http://127.0.0.1:${api.port}`;
    const failing = await submit(base, "demo", { steps: 2, stepMs: 0, fail: "boom" });
    expect((await pollToEnd(base, failing)).at(-1)?.body.status).to.equal("failed");
    const auth = bearer(token);
    expect((await request(`${base}/admin`, { headers: auth })).status).to.equal(200);
    expect((await request(`${base}/admin/api/jobs?status=failed`, { headers: auth })).status).to.equal(200);
    expect((await request(`${base}/admin/api/jobs?id=${token}`, { headers: auth })).status).to.equal(400);
    expect((await request(`${base}/admin/api/stats`, { headers: bearer(`${token}x`) })).status).to.equal(403);
    const replayed = await request(`${base}/admin/api/dead-letters/replay`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ jobIds: [failing.id] }),
    });
    expect(replayed.status).to.equal(200);
    await pollUntil(() => lines.some((l) => l.includes("dead letters replayed")), { what: "the replay's log line" });
    expect(lines.filter((l) => l.includes('"msg":"request"')).length).to.be.at.least(6);
    for (const line of lines) expect(line).not.to.include(token);
  });
});

describe("issue 11: the operator API while RabbitMQ is cut off", function () {
  this.timeout(60_000);
  let proxy: TcpProxy | undefined;
  let stack: Stack | undefined;
  before(async () => {
    proxy = await startTcpProxy({ port: 5672 });
    stack = await startStack({
      workers: 0,
      apiAmqpUrl: `amqp://guest:guest@127.0.0.1:${proxy.port}`,
      publishTimeoutMs: 1_000,
      env: { ...noLimits, ADMIN_TOKEN: token },
    });
  });
  after(async () => {
    proxy?.resume();
    await stack?.close();
    await proxy?.close();
  });

  it("answers dead letters 503 broker-unavailable and stats with unknown figures, never a 500", async () => {
    if (!stack || !proxy) throw new Error("setup failed");
    const base = stack.baseUrl;
    const get = <T>(path: string) => request<T>(`${base}${path}`, { headers: bearer(token) });
    expect((await get("/admin/api/dead-letters")).status).to.equal(200);
    await proxy.cut();
    const letters = await get<{ type: string }>("/admin/api/dead-letters");
    expect(letters.status).to.equal(503);
    expect(letters.body.type).to.equal(P("broker-unavailable"));
    const replayed = await request<{ type: string }>(`${base}/admin/api/dead-letters/replay`, {
      method: "POST",
      headers: { ...bearer(token), "content-type": "application/json" },
      body: JSON.stringify({ all: true }),
    });
    expect(replayed.status).to.equal(503);
    const stats = await get<{ queueDepth: number | null; deadLetters: number | null; rates: { accepted: number } }>(
      "/admin/api/stats",
    );
    expect(stats.status).to.equal(200);
    expect(stats.body).to.include({ queueDepth: null, deadLetters: null });
    expect(stats.body.rates.accepted).to.be.a("number");
    expect((await get("/admin/api/jobs")).status, "Redis-backed listing still answers").to.equal(200);
  });
});
