// Issue 7 item 11: the read rate limit runs before authorisation and is keyed on the requester (its
// credential's subject if it presents a valid one, else its address), so 401/404 probes count and
// a job's owner is not charged for other people's reads. Each client has its own source address.
import { expect } from "chai";
import type { AcceptedJob } from "../../shared/jobs/schemas.ts";
import { fetchFrom } from "../helpers/net.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const aliceKey = "alice-key-0123456789abcdef";
const limit = 3;
/** Enough requests to pass the limit even if a minute boundary falls among them. */
const enough = 2 * limit + 1;

describe("issue 7 item 11: read rate limits run first, keyed on the requester", function () {
  this.timeout(60_000);
  let stack: Stack | undefined;

  before(async () => {
    stack = await startStack({
      env: { API_KEYS: `alice:${aliceKey}`, RATE_LIMIT_READ_PER_MINUTE: String(limit) },
    });
  });
  after(() => stack?.close());

  async function readFrom(ip: string, id: string, headers: Record<string, string> = {}): Promise<number> {
    if (!stack) throw new Error("setup failed");
    const res = await fetchFrom(ip, `${stack.baseUrl}/jobs/${id}`, { headers });
    await res.text();
    return res.status;
  }

  /** Reads until the first 429 (at most `enough` times); returns every status. */
  async function readUntilLimited(ip: string, id: string, headers: Record<string, string> = {}): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < enough && statuses.at(-1) !== 429; i++) statuses.push(await readFrom(ip, id, headers));
    return statuses;
  }

  it("404 probes (unknown ids, wrong tokens) are counted and get 429 past the limit", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < enough; i++) {
      statuses.push(await readFrom("127.0.0.21", crypto.randomUUID(), { authorization: "Bearer not-a-token" }));
    }
    expect(statuses, String(statuses)).to.include(429);
    expect(statuses.filter((s) => s !== 429).every((s) => s === 404)).to.equal(true, String(statuses));
  });

  it("401 probes (no secret at all) are counted and get 429 past the limit", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < enough; i++) statuses.push(await readFrom("127.0.0.22", crypto.randomUUID()));
    expect(statuses, String(statuses)).to.include(429);
    expect(statuses.filter((s) => s !== 429).every((s) => s === 401)).to.equal(true, String(statuses));
  });

  it("two clients reading the same owned job are charged separately (not to the owner)", async () => {
    if (!stack) throw new Error("setup failed");
    const submitted = await fetchFrom("127.0.0.23", `${stack.baseUrl}/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": aliceKey },
      body: JSON.stringify({ type: "demo", payload: { steps: 1, stepMs: 0 } }),
    });
    expect(submitted.status).to.equal(202);
    const job = (await submitted.json()) as AcceptedJob;

    // Someone alice gave the token to reads from elsewhere until limited…
    const holder = await readUntilLimited("127.0.0.24", job.id, { authorization: `Bearer ${job.token}` });
    expect(holder.at(-1), String(holder)).to.equal(429);
    // …and alice herself still reads: those reads were not charged to her.
    expect(await readFrom("127.0.0.23", job.id, { "x-api-key": aliceKey })).to.be.oneOf([200, 303]);
  });

  it("a requester with a valid credential is one client whatever its address", async () => {
    if (!stack) throw new Error("setup failed");
    const res = await fetchFrom("127.0.0.25", `${stack.baseUrl}/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": aliceKey },
      body: JSON.stringify({ type: "demo", payload: { steps: 1, stepMs: 0 } }),
    });
    const job = (await res.json()) as AcceptedJob;
    const statuses: number[] = [];
    for (let i = 0; i < enough && statuses.at(-1) !== 429; i++) {
      statuses.push(await readFrom(`127.0.0.${26 + (i % 3)}`, job.id, { "x-api-key": aliceKey }));
    }
    expect(statuses.at(-1), String(statuses)).to.equal(429);
  });
});
