// A RabbitMQ resource alarm (a node low on memory or disk): the broker blocks each connection that
// publishes, reading nothing more from it until the alarm ends. Herald's API then refuses submits
// at once (503, nothing written) rather than holding each one for PUBLISH_TIMEOUT_MS while its
// message waits, unread, in the socket; a job accepted before the alarm runs to its end (a worker
// that publishes nothing is not blocked); once the alarm ends, submits are accepted again. On a
// private RabbitMQ node: the shared broker is never put in alarm.
import { expect } from "chai";
import type { AcceptedJob } from "../../shared/jobs/schemas.ts";
import { pollToEnd, postJob, type Reply } from "../helpers/http.ts";
import { pollUntil } from "../helpers/net.ts";
import { type RabbitCluster, startRabbitCluster } from "../helpers/rabbit-cluster.ts";
import { jobIdOfKey, jobKeys } from "../helpers/redis-keys.ts";
import { noLimits, type Stack, startStack } from "../helpers/stack.ts";

const ALARM_TEST_PORTS = { from: 27_650, to: 27_699 } as const;
const demo = (steps: number, stepMs: number) => ({ type: "demo", payload: { steps, stepMs } });

describe("faults: a RabbitMQ resource alarm blocks publishing", function () {
  this.timeout(120_000);
  let mq: RabbitCluster;
  let stack: Stack;

  before(async function () {
    this.timeout(180_000); // a RabbitMQ node's start, on a busy machine
    mq = await startRabbitCluster(1, { ports: ALARM_TEST_PORTS });
    stack = await startStack({ amqpUrls: mq.urls, workers: 1, publishTimeoutMs: 5_000, env: noLimits });
  });
  after(async () => {
    await stack?.close();
    await mq?.stop();
  });

  /** A memory high watermark of 0 sets the node's memory alarm at once; 0.4 is the default. */
  const memoryAlarm = (on: boolean) => mq.ctl(["set_vm_memory_high_watermark", on ? "0" : "0.4"]);

  it("while it lasts: POST /jobs is a 503 that writes nothing, and a job accepted before ends; after it, submits are accepted and run", async () => {
    const before = await postJob(stack.baseUrl, demo(6, 200));
    expect(before.status).to.equal(202);
    const running = before.body as AcceptedJob;
    await memoryAlarm(true);
    try {
      // RabbitMQ blocks a connection at its next publish; from then on the API knows and refuses at
      // once (the submits before may wait for their confirm and answer the timeout's 503).
      const statuses: number[] = [];
      const refused = await pollUntil(
        async () => {
          const reply = await postJob(stack.baseUrl, demo(1, 0));
          statuses.push(reply.status);
          return isAlarmRefusal(reply) ? reply : undefined;
        },
        { timeoutMs: 30_000, everyMs: 200, what: "a submit refused for the alarm" },
      );
      expect(
        statuses.filter((s) => s !== 202 && s !== 503),
        "answers while blocking",
      ).to.deep.equal([]);
      expect(refused.contentType).to.match(/^application\/problem\+json/);
      expect((refused.body as { type: string }).type).to.equal("urn:herald:problem:broker-unavailable");
      expect(refused.headers.get("retry-after")).to.equal("5");
      expect(refused.headers.get("location")).to.equal(null);

      // Refused, it leaves no record behind. (Records only: a job accepted above may still be
      // writing its result.)
      const records = async () =>
        (await jobKeys(stack.redis, stack.names)).filter((key) => jobIdOfKey(stack.names.namespace, key) !== null);
      const held = await records();
      expect(isAlarmRefusal(await postJob(stack.baseUrl, demo(1, 0)))).to.equal(true);
      expect(await records()).to.deep.equal(held, "no job record written");

      // The worker's connection publishes nothing for a plain job: it is not blocked, the job ends.
      const end = (await pollToEnd(stack.baseUrl, running, { timeoutMs: 30_000 })).at(-1);
      expect(end?.body.status, "the job accepted before the alarm").to.equal("succeeded");
    } finally {
      await memoryAlarm(false);
    }

    // The alarm over, RabbitMQ unblocks the connection and submits are accepted again.
    const after = await pollUntil(
      async () => {
        const reply = await postJob(stack.baseUrl, demo(1, 0));
        return reply.status === 202 ? (reply.body as AcceptedJob) : undefined;
      },
      { timeoutMs: 30_000, everyMs: 200, what: "a submit accepted after the alarm" },
    );
    const done = (await pollToEnd(stack.baseUrl, after, { timeoutMs: 30_000 })).at(-1);
    expect(done?.body.status, "the job accepted after the alarm").to.equal("succeeded");
  });
});

/** The API's answer while it knows of the alarm (not a confirm that timed out). */
function isAlarmRefusal(reply: Reply): boolean {
  return reply.status === 503 && String((reply.body as { detail?: unknown }).detail ?? "").includes("resource alarm");
}
