// Issue 7 item 10: behind TRUST_PROXY_HOPS proxies, the client address is the X-Forwarded-For
// entry that many hops from the right (the one the outermost trusted proxy appended), never one
// the client wrote itself. Real API over real HTTP; real Redis holds the limit counters. The test
// plays the proxies: it sends what they would forward, "<client's own entries>, <appended…>".
import { expect } from "chai";
import { scanKeys } from "../helpers/redis-keys.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const demo = JSON.stringify({ type: "demo", payload: { steps: 1, stepMs: 0 } });
const limit = 3;

async function submitWith(stack: Stack, forwardedFor: string): Promise<number> {
  const res = await fetch(`${stack.baseUrl}/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
    body: demo,
  });
  await res.text();
  return res.status;
}

/** The clients that rate-limit and in-flight keys were made for (windows stripped). */
async function limitedClients(stack: Stack): Promise<string[]> {
  const ns = stack.names.namespace;
  const rate = (await scanKeys(stack.redis, `${ns}:rate:submit:*`)).map((k) =>
    k.slice(`${ns}:rate:submit:`.length).replace(/:\d+$/, ""),
  );
  const inFlight = (await scanKeys(stack.redis, `${ns}:inflight:*`)).map((k) => k.slice(`${ns}:inflight:`.length));
  return [...new Set([...rate, ...inFlight])].sort();
}

describe("issue 7 item 10: the client address behind TRUST_PROXY_HOPS proxies", function () {
  this.timeout(60_000);

  describe("TRUST_PROXY=true, TRUST_PROXY_HOPS defaulting to 1", () => {
    let stack: Stack | undefined;
    before(async () => {
      stack = await startStack({
        workers: 0,
        env: { TRUST_PROXY: "true", RATE_LIMIT_SUBMIT_PER_MINUTE: String(limit) },
      });
    });
    after(() => stack?.close());

    it("a forged X-Forwarded-For entry per request does not escape the per-client rate limit", async () => {
      if (!stack) throw new Error("setup failed");
      const statuses: number[] = [];
      // The proxy appended 127.0.0.1 (the real peer); the entry before it is the client's forgery.
      for (let i = 1; i <= 2 * limit + 2; i++) statuses.push(await submitWith(stack, `10.66.0.${i}, 127.0.0.1`));
      expect(statuses.filter((s) => s === 202).length).to.be.at.most(2 * limit, `${statuses}: two windows at most`);
      expect(statuses, String(statuses)).to.include(429);

      // Another client (another address appended by the proxy) has its own budget.
      expect(await submitWith(stack, "10.66.0.1, 127.0.0.2")).to.equal(202);

      // No key per forged address: one per real client.
      expect(await limitedClients(stack)).to.deep.equal(["ip:127.0.0.1", "ip:127.0.0.2"]);
    });
  });

  describe("TRUST_PROXY_HOPS=2", () => {
    let stack: Stack | undefined;
    before(async () => {
      stack = await startStack({
        workers: 0,
        env: { TRUST_PROXY: "true", TRUST_PROXY_HOPS: "2", RATE_LIMIT_SUBMIT_PER_MINUTE: String(limit) },
      });
    });
    after(() => stack?.close());

    it("the client is the entry the outer proxy appended, whatever the client sent before it", async () => {
      if (!stack) throw new Error("setup failed");
      // Outer proxy appended 127.0.0.3 (the client), inner proxy appended 127.0.0.9 (the outer proxy).
      const statuses: number[] = [];
      for (let i = 1; i <= 2 * limit + 2; i++) {
        statuses.push(await submitWith(stack, `10.66.1.${i}, 10.66.2.${i}, 127.0.0.3, 127.0.0.9`));
      }
      expect(statuses, String(statuses)).to.include(429);
      expect(await limitedClients(stack)).to.deep.equal(["ip:127.0.0.3"]);
    });
  });
});
