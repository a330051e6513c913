// shared/registry/announce.ts: a withdrawal waits for a refresh in flight, so the refresh cannot
// re-add the worker's entry after the removal (the API would count a stopped worker for a TTL).
// The registry here is a recording stand-in: the order of its calls is what is under test.
import { expect } from "chai";
import { z } from "zod";
import { defineJobType } from "../../shared/jobs/job-types.ts";
import { createLogger } from "../../shared/observability/log.ts";
import { announceJobTypes } from "../../shared/registry/announce.ts";
import type { JobTypeAnnouncer } from "../../shared/registry/job-type-registry.ts";

describe("unit: job type announcement", () => {
  it("withdraw waits for a refresh in flight, then removes the entry; no refresh after it", async () => {
    const calls: string[] = [];
    let finishRefresh: (() => void) | undefined;
    let refreshStarted: (() => void) | undefined;
    const started = new Promise<void>((resolve) => {
      refreshStarted = resolve;
    });
    const registry: JobTypeAnnouncer = {
      define: async () => {},
      announce: async () => {
        calls.push("announce");
      },
      refresh: () => {
        calls.push("refresh");
        refreshStarted?.();
        return new Promise<void>((resolve) => {
          finishRefresh = () => {
            calls.push("refresh done");
            resolve();
          };
        });
      },
      withdraw: async () => {
        calls.push("withdraw");
      },
    };
    const type = defineJobType({ name: "t", description: "test", payload: z.object({}) });
    const log = createLogger("error", {});
    const announcement = await announceJobTypes({ registry, types: [type], workerId: "w1", ttlMs: 300, log });
    await started; // the first refresh, a third of the TTL later, is now in flight
    const withdrawn = announcement.withdraw();
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(calls, "nothing removed while the refresh is in flight").to.deep.equal(["announce", "refresh"]);
    finishRefresh?.();
    await withdrawn;
    await announcement.withdraw(); // twice: harmless
    await new Promise((resolve) => setTimeout(resolve, 250)); // past another refresh interval
    expect(calls).to.deep.equal(["announce", "refresh", "refresh done", "withdraw"]);
  });
});
