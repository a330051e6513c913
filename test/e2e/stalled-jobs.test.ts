// Real worker processes killed with SIGKILL while they run a job:
//  - issue 7 item 22: with no worker left at all, the API's sweeper ends the job `failed`
//    (worker-lost) once its lease has been expired for STALL_TIMEOUT_MS; it shows `stalled` before;
//  - `attempts-exhausted`: a job whose worker is killed on each of its attempts fails once
//    redelivery would start an attempt past maxAttempts (the demo type allows 3).
import { expect } from "chai";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { type Cluster, pollUntil, startCluster } from "../helpers/cluster.ts";
import { bearer, request, submit } from "../helpers/http.ts";

const statusOf = async (base: string, job: { id: string; token: string }): Promise<JobView> =>
  (await request<JobView>(`${base}/jobs/${job.id}`, { headers: bearer(job.token), redirect: "manual" })).body;

describe("e2e: jobs whose workers are killed", function () {
  this.timeout(120_000);

  describe("with no worker left (issue 7 item 22)", () => {
    let cluster: Cluster | undefined;
    before(async () => {
      cluster = await startCluster({
        apis: 1,
        workers: 1,
        env: { LEASE_MS: "900", STALL_TIMEOUT_MS: "2000", RATE_LIMIT_READ_PER_MINUTE: "0" },
      });
    });
    after(async () => {
      await cluster?.stop();
    });

    it("the API alone ends the stalled job failed (worker-lost), after showing it stalled", async () => {
      const api = cluster?.apis[0];
      const worker = cluster?.workers[0];
      if (!api || !worker) throw new Error("setup failed");
      const job = await submit(api.url, "demo", { steps: 200, stepMs: 500 });
      await pollUntil(async () => (await statusOf(api.url, job)).status === "running", {
        timeoutMs: 20_000,
        what: "the job to run",
      });
      await worker.kill("SIGKILL"); // not restarted: no worker runs from here on
      const stalled = await pollUntil(
        async () => {
          const v = await statusOf(api.url, job);
          return v.stalled || v.status !== "running" ? v : null;
        },
        { timeoutMs: 20_000, what: "the job to show stalled" },
      );
      expect(stalled.status).to.equal("running");
      expect(stalled.stalled).to.equal(true);
      const end = await pollUntil(
        async () => {
          const v = await statusOf(api.url, job);
          return v.status !== "running" ? v : null;
        },
        { timeoutMs: 30_000, what: "the job to end" },
      );
      expect(end.status).to.equal("failed");
      expect(end.error?.type).to.equal("urn:herald:problem:worker-lost");
      expect(end.error?.attempts).to.equal(1);
    });
  });

  describe("killed on every attempt", () => {
    let cluster: Cluster | undefined;
    before(async () => {
      // A stall timeout far away: redelivery, not the sweeper, moves the job on.
      cluster = await startCluster({
        apis: 1,
        workers: 1,
        env: { LEASE_MS: "900", STALL_TIMEOUT_MS: "600000", RATE_LIMIT_READ_PER_MINUTE: "0" },
      });
    });
    after(async () => {
      await cluster?.stop();
    });

    it("fails attempts-exhausted when a redelivery would start a fourth attempt", async () => {
      const api = cluster?.apis[0];
      const worker = cluster?.workers[0];
      if (!api || !worker) throw new Error("setup failed");
      const job = await submit(api.url, "demo", { steps: 200, stepMs: 500 });
      for (let attempt = 1; attempt <= 3; attempt++) {
        await pollUntil(
          async () => {
            const v = await statusOf(api.url, job);
            return v.status === "running" && v.attempts === attempt;
          },
          { timeoutMs: 30_000, what: `attempt ${attempt} to run` },
        );
        await worker.kill("SIGKILL");
        await worker.restart();
      }
      const end = await pollUntil(
        async () => {
          const v = await statusOf(api.url, job);
          return v.status !== "running" && v.status !== "queued" ? v : null;
        },
        { timeoutMs: 30_000, what: "the job to end" },
      );
      expect(end.status).to.equal("failed");
      expect(end.error?.type).to.equal("urn:herald:problem:attempts-exhausted");
      expect(end.attempts).to.equal(3);
    });
  });
});
