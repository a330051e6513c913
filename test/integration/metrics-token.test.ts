// METRICS_TOKEN: with it set, the API's /metrics and the worker's (WORKER_METRICS_PORT) answer only a
// request that sends it as a Bearer credential; without it, a problem. And the shipped nginx does not
// pass /metrics through the balancer at all (each instance is scraped at its own address). Real API
// and worker processes, configured through their environment, behind the shipped deploy/nginx.conf.
import { expect } from "chai";
import { metricNames } from "../../shared/observability/metrics.ts";
import { loadConfig } from "../../shared/runtime/config.ts";
import { type Cluster, freePort, startCluster } from "../helpers/cluster.ts";
import { request } from "../helpers/http.ts";
import { parseMetrics } from "../helpers/metrics.ts";
import { noLimits } from "../helpers/stack.ts";

const TOKEN = "metrics-0123456789abcdef0123456789abcdef";
const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

describe("METRICS_TOKEN guards /metrics on the API and the worker; nginx keeps /metrics off the balancer", function () {
  this.timeout(90_000);
  let cluster: Cluster | undefined;
  let workerMetrics = "";
  const c = (): Cluster => {
    if (!cluster) throw new Error("setup failed");
    return cluster;
  };
  const apiMetrics = () => `${c().apis[0]?.url}/metrics`;

  before(async () => {
    const port = await freePort();
    workerMetrics = `http://127.0.0.1:${port}/metrics`;
    cluster = await startCluster({
      apis: 1,
      workers: 1,
      env: { ...noLimits, METRICS_TOKEN: TOKEN },
      workerEnv: { WORKER_METRICS_PORT: String(port) },
    });
  });
  after(async () => {
    await cluster?.stop();
  });

  it("takes a token of 32 characters or more, and none by default", () => {
    expect(loadConfig({}).metricsToken).to.equal(undefined);
    expect(loadConfig({ METRICS_TOKEN: TOKEN }).metricsToken).to.equal(TOKEN);
    expect(() => loadConfig({ METRICS_TOKEN: "short" })).to.throw(/METRICS_TOKEN/);
  });

  for (const [who, url] of [
    ["the API", apiMetrics],
    ["the worker", () => workerMetrics],
  ] as const) {
    it(`${who}: no credential is 401 with a Bearer challenge, a wrong one 403, both problem+json`, async () => {
      const none = await request<{ type: string; status: number }>(url());
      expect(none.status).to.equal(401);
      expect(none.contentType).to.match(/^application\/problem\+json/);
      expect(none.body.type).to.equal("urn:herald:problem:unauthorized");
      expect(none.headers.get("www-authenticate")).to.equal('Bearer realm="herald-metrics"');
      for (const authorization of [`Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN]) {
        const wrong = await request<{ type: string }>(url(), { headers: { authorization } });
        expect(wrong.status, authorization).to.be.oneOf([401, 403]);
        expect(wrong.body).not.to.be.a("string"); // a problem, never the metrics
      }
      const wrong = await request<{ type: string }>(url(), { headers: { authorization: `Bearer ${TOKEN}x` } });
      expect(wrong.status).to.equal(403);
      expect(wrong.body.type).to.equal("urn:herald:problem:forbidden");
    });

    it(`${who}: the token as a Bearer credential reads the metrics`, async () => {
      const ok = await request<string>(url(), { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).to.equal(200);
      expect(ok.contentType).to.equal(PROMETHEUS_TEXT);
      const names = parseMetrics(ok.body).families.map((f) => f.name);
      expect(names).to.include(metricNames.brokerReconnects);
    });
  }

  it("guards nothing else: /healthz and /readyz answer without it", async () => {
    const api = c().apis[0]?.url;
    expect((await request(`${api}/healthz`)).status).to.equal(200);
    expect((await request(`${api}/readyz`)).status).to.equal(200);
  });

  it("the shipped nginx answers /metrics itself with a 404 problem, even with the token", async () => {
    const through = await request<{ type: string; detail: string }>(`${c().baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(through.status).to.equal(404);
    expect(through.contentType).to.match(/^application\/problem\+json/);
    expect(through.body.type).to.equal("urn:herald:problem:not-found");
    expect(through.headers.get("x-herald-instance")).to.equal(null); // no API instance answered
    // The balancer still serves the API's other routes.
    expect((await request(`${c().baseUrl}/healthz`)).status).to.equal(200);
  });
});
