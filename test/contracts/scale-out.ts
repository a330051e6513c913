// Realtime and protocol across scaled-out instances, as one set of tests any process cluster
// (test/helpers/cluster.ts: several APIs behind nginx, several workers) is put through: on the
// shared brokers (test/e2e/scale-out.test.ts) and on a Redis Cluster + RabbitMQ cluster
// (test/faults/clusters.test.ts). Events go worker → Redis (the Socket.IO backplane) → whichever
// instance holds the client's socket; killing an instance moves its clients to the other one.
//
//   describe("…", () => {
//     let cluster: Cluster;
//     before(async () => { cluster = await startCluster({ apis: 2, workers: 2 }); });
//     scaleOutContract(() => cluster);
//   });
import { expect } from "chai";
import { HeraldClient } from "../../shared/client/index.ts";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { agentFrom, type Cluster, fetchFrom, loopbackClient } from "../helpers/cluster.ts";
import { bearer, submit } from "../helpers/http.ts";
import { collectJobEvents, connectSocket, dedupe, readSse } from "../helpers/realtime.ts";
import { expectCancelRunning, expectLongPollToEnd, expectSubmitPollResult } from "./protocol.ts";

/** Registers the tests (and a `before` hook that learns which client address nginx pins to which
 * API) in the calling `describe`; `cluster()` must have at least 2 APIs and a worker by then. */
export function scaleOutContract(cluster: () => Cluster): void {
  /** Client source address → the API instance nginx pins its Socket.IO traffic to. */
  const pinned = new Map<string, string>();

  /** Client addresses the tests need pinned to each API. */
  const perApi = 2;
  before(async () => {
    const c = cluster();
    // Until every API has `perApi` addresses: the hash spreads them unevenly (upstream ports are new
    // each run), so a fixed number of addresses can leave an API with too few.
    const enough = () => c.apis.every((a) => [...pinned.values()].filter((id) => id === a.id).length >= perApi);
    for (let n = 2; n <= 250 && !enough(); n++) {
      const ip = loopbackClient(n);
      const res = await fetchFrom(ip, `${c.baseUrl}/socket.io/?EIO=4&transport=polling`);
      await res.arrayBuffer();
      const addr = res.headers.get("x-herald-upstream")?.split(",").at(-1)?.trim();
      const api = c.apis.find((a) => addr === `127.0.0.1:${a.port}`);
      if (api) pinned.set(ip, api.id);
    }
  });

  const ipOn = (apiId: string, skip = 0): string => {
    const ip = [...pinned].filter(([, id]) => id === apiId)[skip]?.[0];
    if (!ip) throw new Error(`no client address pinned to ${apiId}: ${JSON.stringify([...pinned])}`);
    return ip;
  };
  const apiUrl = (i: number): string => {
    const api = cluster().apis[i];
    if (!api) throw new Error(`no api ${i}`);
    return api.url;
  };

  function expectEveryVersion(views: JobView[], steps: number): void {
    const versions = views.map((v) => v.version);
    const first = versions[0] ?? 0;
    expect(versions).to.deep.equal(
      versions.map((_, i) => first + i),
      "every version from the snapshot on, in order",
    );
    expect(views.at(-1)?.status).to.equal("succeeded");
    const percents = views.filter((v) => v.status === "running").map((v) => v.progress.percent);
    for (let s = 1; s <= steps; s++) expect(percents).to.include(Math.round((s / steps) * 100));
  }

  it("through nginx: POST → 202 → polls with growing progress → 303 → result", () =>
    expectSubmitPollResult(cluster().baseUrl));

  it("through nginx: a chain of long polls (Prefer: wait) ends with the terminal state", () =>
    expectLongPollToEnd(cluster().baseUrl));

  it("through nginx: cancel of a running job reaches its worker; the job ends canceled", () =>
    expectCancelRunning(cluster().baseUrl));

  it("a socket on instance B gets every event of a job posted to instance A (polling transport, sticky, then upgrade)", async () => {
    const onB = await connectSocket(cluster().baseUrl, {
      transports: ["polling", "websocket"],
      agent: agentFrom(ipOn("api-1")) as unknown as string,
    });
    const onA = await connectSocket(cluster().baseUrl, {
      transports: ["websocket"],
      agent: agentFrom(ipOn("api-0")) as unknown as string,
    });
    try {
      const job = await submit(apiUrl(0), "demo", { steps: 5, stepMs: 150 });
      const views = await Promise.all(
        [onB, onA].map(async (socket) => {
          const events = collectJobEvents(socket, job.id, 20_000);
          const reply = await socket.timeout(5_000).emitWithAck("subscribe", { jobId: job.id, token: job.token });
          if (!reply.ok) throw new Error(JSON.stringify(reply.error));
          return [reply.job, ...(await events)];
        }),
      );
      for (const seen of views) expectEveryVersion(dedupe(seen.sort((a, b) => a.version - b.version)), 5);
      expect(onB.io.engine.transport.name).to.equal("websocket", "upgraded through nginx");
    } finally {
      onB.close();
      onA.close();
    }
  });

  it("an SSE client on one instance follows a job posted to the other, and through nginx", async () => {
    const job = await submit(apiUrl(1), "demo", { steps: 4, stepMs: 150 });
    const [direct, balanced] = await Promise.all([
      readSse(`${apiUrl(0)}/jobs/${job.id}/events`, bearer(job.token), { timeoutMs: 20_000 }),
      readSse(`${cluster().baseUrl}/jobs/${job.id}/events`, bearer(job.token), { timeoutMs: 20_000 }),
    ]);
    for (const sse of [direct, balanced]) {
      expect(sse.status).to.equal(200);
      expect(sse.ended).to.equal(true);
      expectEveryVersion(
        sse.events.map((e) => e.view),
        4,
      );
    }
  });

  it("killing an instance mid-job: its clients reconnect through nginx to the other and still get the end", async () => {
    const clients = ["api-0", "api-0", "api-1", "api-1"].map(
      (apiId, i) =>
        new HeraldClient({
          baseUrl: cluster().baseUrl,
          socket: {
            socketOptions: {
              transports: ["websocket"],
              agent: agentFrom(ipOn(apiId, i % 2)) as unknown as string,
              reconnectionDelay: 200,
              reconnectionDelayMax: 1_000,
            },
          },
        }),
    );
    try {
      const jobs = await Promise.all(clients.map((c) => c.submit("demo", { steps: 10, stepMs: 300 })));
      const seen = jobs.map(() => [] as JobView[]);
      const watches = clients.map((c, i) =>
        c.watch(jobs[i] as (typeof jobs)[number], { onUpdate: (v) => seen[i]?.push(v) }),
      );
      // Wait until every client sees its job running, then kill the instance half of them are on.
      const deadline = Date.now() + 15_000;
      while (!seen.every((s) => s.some((v) => v.status === "running" && v.progress.percent > 0))) {
        if (Date.now() > deadline) throw new Error("jobs did not start");
        await new Promise((r) => setTimeout(r, 50));
      }
      const victim = cluster().apis[0];
      if (!victim) throw new Error("no api-0");
      await victim.kill("SIGKILL");
      const finals = await Promise.all(watches.map((w) => w.done));
      for (const [i, final] of finals.entries()) {
        expect(final.status).to.equal("succeeded");
        const versions = (seen[i] ?? []).map((v) => v.version);
        expect(versions).to.deep.equal(
          [...versions].sort((a, b) => a - b),
          "no version went backwards",
        );
      }
      expect(watches.map((w) => w.channel)).to.deep.equal(["socket", "socket", "socket", "socket"]);
      await victim.restart();
    } finally {
      for (const c of clients) c.close();
    }
  });
}
