// shared/queue/backoff.ts backoffDelay: exponential growth, capped, with jitter in [ceiling/2, ceiling].
import { expect } from "chai";
import { backoffDelay } from "../../shared/queue/backoff.ts";

const lowest = () => 0;
const highest = () => 0.999_999_999;

describe("unit: backoffDelay", () => {
  it("doubles the ceiling per attempt from the base", () => {
    expect(backoffDelay(0, 100, 10_000, highest)).to.equal(100);
    expect(backoffDelay(1, 100, 10_000, highest)).to.equal(200);
    expect(backoffDelay(3, 100, 10_000, highest)).to.equal(800);
  });

  it("jitters between half the ceiling and the ceiling", () => {
    expect(backoffDelay(3, 100, 10_000, lowest)).to.equal(400);
    expect(backoffDelay(3, 100, 10_000, () => 0.5)).to.equal(600);
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(3, 100, 10_000);
      expect(d).to.be.within(400, 800);
      expect(Number.isInteger(d)).to.equal(true);
    }
  });

  it("never exceeds maxMs, even for huge attempt numbers", () => {
    for (const attempt of [10, 20, 31, 100, 1_000_000]) {
      const high = backoffDelay(attempt, 100, 5_000, highest);
      const low = backoffDelay(attempt, 100, 5_000, lowest);
      expect(high, `attempt ${attempt}`).to.equal(5_000);
      expect(low, `attempt ${attempt}`).to.equal(2_500);
    }
  });

  it("is always finite and positive for a positive base", () => {
    for (let attempt = 0; attempt < 200; attempt++) {
      const d = backoffDelay(attempt, 1, Number.MAX_SAFE_INTEGER);
      expect(Number.isFinite(d), `attempt ${attempt}`).to.equal(true);
      expect(d).to.be.greaterThan(0);
    }
  });
});
