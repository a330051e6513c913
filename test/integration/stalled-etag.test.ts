// Issue 7 item 18: the status monitor's validator covers everything its body shows. `stalled`
// changes without a new version (a lease lapses, or a slow worker renews it again), so an ETag of
// id and version alone let a 304 hide it. Jobs are seeded as running records with a lease the
// test controls; no worker runs, so nothing else touches them.
import { expect } from "chai";
import { HeraldClient } from "../../shared/client/index.ts";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { transition } from "../../shared/store/job-store.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { bearer, getStatus, request } from "../helpers/http.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("issue 7 item 18: a change of `stalled` is never hidden by a 304", function () {
  this.timeout(60_000);
  let stack: Stack | undefined;
  let store: RedisJobStore;
  before(async () => {
    stack = await startStack({ workers: 0 });
    store = new RedisJobStore(stack.redis, stack.names, 3600);
  });
  after(() => stack?.close());

  /** A job some worker is running, under a lease of `leaseMs` from now. */
  async function runningJob(leaseMs: number): Promise<{ id: string; token: string }> {
    const { record, token } = newJob("demo");
    await store.create(record);
    const now = new Date().toISOString();
    const running = await transition(store, record.id, () => ({ status: "running", attempts: 1, startedAt: now }));
    expect(running?.status).to.equal("running");
    await store.holdLease(record.id, leaseMs);
    return { id: record.id, token };
  }
  const conditional = (job: { id: string; token: string }, etag: string, extra: Record<string, string> = {}) =>
    request<JobView>(`${stack?.baseUrl}/jobs/${job.id}`, {
      headers: { ...bearer(job.token), "if-none-match": etag, ...extra },
    });

  it("a running job whose lease lapses: the earlier ETag gets 200 with stalled: true, not 304", async () => {
    const job = await runningJob(60_000);
    const healthy = await getStatus(stack?.baseUrl ?? "", job);
    expect(healthy.status).to.equal(200);
    expect(healthy.body.stalled).to.equal(undefined);
    const healthyTag = healthy.headers.get("etag") ?? "";
    expect((await conditional(job, healthyTag)).status).to.equal(304, "nothing changed yet");

    await store.holdLease(job.id, -1_000); // the worker stopped renewing: its lease lapsed a second ago
    const stalled = await conditional(job, healthyTag);
    expect(stalled.status).to.equal(200);
    expect(stalled.body.stalled).to.equal(true);
    expect(stalled.body.version).to.equal(healthy.body.version);
    const stalledTag = stalled.headers.get("etag") ?? "";
    expect(stalledTag).to.not.equal(healthyTag);
    expect((await conditional(job, stalledTag)).status).to.equal(304, "stalled, and the client knows it");

    await store.holdLease(job.id, 60_000); // a slow worker renewed after all
    const back = await conditional(job, stalledTag);
    expect(back.status).to.equal(200);
    expect(back.body.stalled).to.equal(undefined);
    expect(back.headers.get("etag")).to.equal(healthyTag);
  });

  it("a long poll held on a running job answers when its lease lapses, with stalled: true", async () => {
    const job = await runningJob(60_000);
    const healthyTag = (await getStatus(stack?.baseUrl ?? "", job)).headers.get("etag") ?? "";
    await store.holdLease(job.id, 1_500);
    const held = await conditional(job, healthyTag, { prefer: "wait=30" });
    expect(held.status).to.equal(200, "not a 304 after the 30 s");
    expect(held.body.stalled).to.equal(true);
    expect(held.headers.get("etag")).to.not.equal(healthyTag);
  });

  it("the client's polling channel passes the change on: the same version again, now stalled", async () => {
    const job = await runningJob(60_000);
    const client = new HeraldClient({ baseUrl: stack?.baseUrl ?? "", channels: ["polling"], pollWaitSeconds: 1 });
    const updates: JobView[] = [];
    let seen: (n: number) => void = () => {};
    const watch = client.watch(job, {
      onUpdate: (v) => {
        updates.push(v);
        seen(updates.length);
      },
    });
    const count = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${updates.length} updates, not ${n}, within 20 s`)), 20_000);
        seen = (k) => {
          if (k < n) return;
          clearTimeout(timer);
          resolve();
        };
        seen(updates.length);
      });
    try {
      await count(1);
      await store.holdLease(job.id, -1_000);
      await count(2);
      expect(updates.map((v) => [v.version, v.status, v.stalled])).to.deep.equal([
        [updates[0]?.version, "running", undefined],
        [updates[0]?.version, "running", true],
      ]);
      expect(watch.latest?.stalled).to.equal(true);
    } finally {
      watch.close();
      client.close();
    }
  });
});
