// services/api/status-response.ts retryAfter: ETA-driven polling hint, always within bounds.
import { expect } from "chai";
import { retryAfter } from "../../services/api/status-response.ts";
import type { JobRecord, JobStatus } from "../../shared/jobs/schemas.ts";

const hints = { retryAfterSeconds: 2, retryAfterMaxSeconds: 30 };

function job(status: JobStatus, etaSeconds?: number): JobRecord {
  const now = new Date().toISOString();
  return {
    id: "4b0f6a8e-2f4c-4c1e-9a51-1f0e6f2c9d11",
    type: "demo",
    status,
    version: 2,
    attempts: 1,
    progress: etaSeconds === undefined ? { percent: 10 } : { percent: 10, etaSeconds },
    tokenHash: "x",
    createdAt: now,
    updatedAt: now,
  };
}

describe("unit: retryAfter", () => {
  it("uses the configured default when there is no ETA", () => {
    expect(retryAfter(job("running"), hints)).to.equal(2);
    expect(retryAfter(job("queued"), hints)).to.equal(2);
  });

  it("ignores an ETA unless the job is running", () => {
    expect(retryAfter(job("queued", 12), hints)).to.equal(2);
  });

  it("follows the ETA of a running job, rounded up", () => {
    expect(retryAfter(job("running", 7), hints)).to.equal(7);
    expect(retryAfter(job("running", 7.2), hints)).to.equal(8);
  });

  it("is at least 1 second, even for an ETA of 0 or a fraction", () => {
    expect(retryAfter(job("running", 0), hints)).to.equal(1);
    expect(retryAfter(job("running", 0.01), hints)).to.equal(1);
  });

  it("is at most retryAfterMaxSeconds, whatever the ETA says", () => {
    expect(retryAfter(job("running", 30), hints)).to.equal(30);
    expect(retryAfter(job("running", 31), hints)).to.equal(30);
    expect(retryAfter(job("running", 31_536_000), hints)).to.equal(30);
  });

  it("is always a whole number of seconds within [1, max] over a sweep of ETAs", () => {
    for (let eta = 0; eta < 100; eta += 0.37) {
      const s = retryAfter(job("running", eta), hints);
      expect(Number.isInteger(s), `eta ${eta}`).to.equal(true);
      expect(s, `eta ${eta}`).to.be.within(1, 30);
    }
  });
});
