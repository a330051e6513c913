// Scale-out through a real load balancer: two API processes and one worker process behind nginx,
// against the real RabbitMQ and Redis. Which instance answered is read from X-Herald-Instance.
import { expect } from "chai";
import { type Cluster, fetchFrom, loopbackClient, pollUntil, startCluster } from "../helpers/cluster.ts";
import { getStatus, request, submit } from "../helpers/http.ts";

describe("e2e: 2 APIs + 1 worker behind nginx", function () {
  this.timeout(30_000);
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({ apis: 2, workers: 1 });
  });
  after(async () => {
    await cluster?.stop();
  });

  const instanceOf = (res: { headers: Headers }): string => res.headers.get("x-herald-instance") ?? "<none>";
  /** nginx's own header: which upstream answered, as an API id (also works where the API sets no header). */
  const upstreamOf = (res: { headers: Headers }): string => {
    const addr = res.headers.get("x-herald-upstream")?.split(",").at(-1)?.trim() ?? "";
    return cluster.apis.find((a) => addr === `127.0.0.1:${a.port}`)?.id ?? `<${addr}>`;
  };

  it("round-robins plain requests over both instances", async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${cluster.baseUrl}/healthz`);
      expect(res.status).to.equal(200);
      await res.arrayBuffer();
      seen.push(instanceOf(res));
      expect(upstreamOf(res)).to.equal(instanceOf(res));
    }
    expect([...new Set(seen)].sort()).to.deep.equal(["api-0", "api-1"]);
  });

  it("runs a demo job submitted and polled through nginx, served by both instances", async () => {
    const job = await submit(cluster.baseUrl, "demo", { steps: 2, stepMs: 50 });
    expect(job).to.include.keys("id", "token");
    const pollers = new Set<string>();
    const done = await pollUntil(
      async () => {
        const reply = await getStatus(cluster.baseUrl, job);
        pollers.add(instanceOf(reply));
        return reply.status === 303 ? reply : undefined;
      },
      { timeoutMs: 15_000, everyMs: 25, what: `job ${job.id} answering 303` },
    );
    const location = done.headers.get("location");
    expect(location).to.be.a("string");
    const result = await request(new URL(location as string, cluster.baseUrl).href, {
      headers: { authorization: `Bearer ${job.token}` },
    });
    expect(result.status).to.equal(200);
    expect(result.body).to.deep.include({ steps: 2 });
    // The job record lives in Redis, so both instances answered its status.
    expect([...pollers].sort()).to.deep.equal(["api-0", "api-1"]);
  });

  it("pins /socket.io/ to one instance per client address, spread across addresses", async () => {
    const pinned = new Map<string, string>();
    for (let n = 2; n <= 20 && new Set(pinned.values()).size < 2; n++) {
      const ip = loopbackClient(n);
      const answers = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const res = await fetchFrom(ip, `${cluster.baseUrl}/socket.io/?EIO=4&transport=polling`);
        await res.arrayBuffer();
        answers.add(upstreamOf(res));
      }
      expect([...answers], `answers for ${ip}`).to.have.length(1);
      pinned.set(ip, [...answers][0] as string);
    }
    expect([...new Set(pinned.values())].sort()).to.deep.equal(["api-0", "api-1"]);
    // nginx saw the chosen source addresses (the hash would be useless otherwise).
    expect(cluster.nginx.accessLog()).to.match(/^127\.0\.0\.2 "GET \/socket\.io\//m);
  });

  it("keeps serving through nginx after one API is SIGKILLed, and takes it back after restart", async () => {
    const [victim, survivor] = cluster.apis;
    if (!victim || !survivor) throw new Error("two APIs expected");
    const exit = await victim.kill("SIGKILL");
    expect(exit.signal).to.equal("SIGKILL");

    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${cluster.baseUrl}/healthz`);
      expect(res.status).to.equal(200);
      await res.arrayBuffer();
      expect(instanceOf(res)).to.equal(survivor.id);
    }
    const job = await submit(cluster.baseUrl, "demo", { steps: 1, stepMs: 10 });
    await pollUntil(async () => (await getStatus(cluster.baseUrl, job)).status === 303, {
      timeoutMs: 10_000,
      what: `job ${job.id} answering 303 with one API`,
    });

    await victim.restart();
    expect(victim.alive).to.equal(true);
    // nginx retries the failed server once its fail_timeout (2 s) is over.
    await pollUntil(
      async () => {
        const res = await fetch(`${cluster.baseUrl}/healthz`);
        await res.arrayBuffer();
        return res.status === 200 && instanceOf(res) === victim.id;
      },
      { timeoutMs: 10_000, what: `${victim.id} serving through nginx again` },
    );
  });
});
