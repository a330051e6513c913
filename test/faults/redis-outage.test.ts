// Issue 7 item 8: no Redis or RabbitMQ outage, at any moment, ends an API or worker process.
// Real API and worker processes run against a PRIVATE Redis (AOF, fsync always) and, through a TCP
// proxy, the shared RabbitMQ. Jobs with many short steps keep progress events flowing to a
// subscribed Socket.IO client (and some jobs are canceled, so the API emits too) while Redis is
// killed with SIGKILL and restarted, or the RabbitMQ link is cut, several times at random moments.
// Every process must live through it, and once the broker is back new jobs complete and their
// events reach Socket.IO.
import { setTimeout as delay } from "node:timers/promises";
import { expect } from "chai";
import type { ClientSocket } from "../../shared/client/socket-channel.ts";
import { type AcceptedJob, isTerminal, type JobView } from "../../shared/jobs/schemas.ts";
import { type Cluster, pollUntil, type ServiceProcess, startCluster } from "../helpers/cluster.ts";
import { bearer, postJob, request } from "../helpers/http.ts";
import { type PrivateRedis, startPrivateRedis } from "../helpers/private-redis.ts";
import { collectJobEvents, connectSocket } from "../helpers/realtime.ts";
import { prng } from "../helpers/soak.ts";
import { AMQP_URL } from "../helpers/stack.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";

const SEED = Number(process.env.FAULT_SEED ?? Date.now() % 100_000);
const OUTAGES = 4;

/** `concurrency` clients, each submitting a job, subscribing to it over Socket.IO and awaiting its
 * end (every other one canceled on the way, so the API publishes events too), then the next,
 * until stop(). */
interface Traffic {
  /** `job` events received on the socket so far. */
  readonly events: number;
  readonly accepted: number;
  readonly canceled: number;
  /** HTTP statuses of every submit and cancel. */
  readonly answers: readonly number[];
  stop(): Promise<void>;
}

function startTraffic(apiUrl: string, socket: ClientSocket, concurrency = 3): Traffic {
  let events = 0;
  let accepted = 0;
  let canceled = 0;
  const answers: number[] = [];
  let stopped = false;
  const ended = new Map<string, () => void>();
  const onJob = (view: JobView) => {
    events++;
    if (isTerminal(view.status)) ended.get(view.id)?.();
  };
  socket.on("job", onJob);
  const loop = async () => {
    for (let n = 1; !stopped; n++) {
      try {
        // ~1.5 s of work in 300 steps: a progress commit and its event every few milliseconds.
        const reply = await postJob(apiUrl, { type: "demo", payload: { steps: 300, stepMs: 5 } });
        answers.push(reply.status);
        if (reply.status !== 202) {
          await delay(100); // refused during the outage: the client would honour Retry-After
          continue;
        }
        accepted++;
        const job = reply.body as AcceptedJob;
        const end = new Promise<void>((resolve) => ended.set(job.id, resolve));
        await socket.timeout(5_000).emitWithAck("subscribe", { jobId: job.id, token: job.token });
        if (n % 2 === 1) {
          await delay(200);
          const del = await request(`${apiUrl}/jobs/${job.id}`, { method: "DELETE", headers: bearer(job.token) });
          answers.push(del.status);
          if (del.status === 200 || del.status === 202) canceled++;
        }
        // Its end, or give up on it (an event lost in an outage): either way, the next job.
        await Promise.race([end, delay(5_000)]);
        ended.delete(job.id);
      } catch {
        await delay(100); // no answer at all, or the ack timed out: go on
      }
    }
  };
  const loops = Promise.all(Array.from({ length: concurrency }, loop));
  return {
    get events() {
      return events;
    },
    get accepted() {
      return accepted;
    },
    get canceled() {
      return canceled;
    },
    answers,
    async stop() {
      stopped = true;
      await loops;
      socket.off("job", onJob);
    },
  };
}

/** What Node prints when an uncaught exception or unhandled rejection ends it, and what the
 * cluster harness writes when a process exits. */
const crashed = /^Node\.js v\d+|triggerUncaughtException|UnhandledPromiseRejection|exited \(code/m;

/** The process is the one we started, still running, and its output shows no crash. */
function expectAlive(p: ServiceProcess, pid: number | undefined, context: string): void {
  if (!p.alive || crashed.test(p.output())) {
    const output = p.output();
    const at = output.search(crashed);
    const excerpt = at >= 0 ? output.slice(Math.max(0, at - 3_000), at + 500) : output.slice(-3_000);
    expect.fail(`${p.id} crashed (${context}); its output:\n${excerpt}`);
  }
  expect(p.process.pid, `${p.id} was not restarted (${context})`).to.equal(pid);
}

/** After the outage: a new job runs to the end and every one of its events reaches the socket. */
async function expectJobsFlowAgain(cluster: Cluster, socket: ClientSocket): Promise<void> {
  const api = cluster.apis[0];
  if (!api) throw new Error("one API expected");
  await pollUntil(async () => (await request(`${api.url}/readyz`)).status === 200, {
    timeoutMs: 30_000,
    what: "/readyz answering 200 again",
  });
  const job = await pollUntil(
    async () => {
      const r = await postJob(api.url, { type: "demo", payload: { steps: 5, stepMs: 100 } });
      return r.status === 202 ? (r.body as AcceptedJob) : null;
    },
    { timeoutMs: 15_000, what: "a submit accepted after the outage" },
  );
  const events = collectJobEvents(socket, job.id, 30_000);
  const reply = await socket.timeout(5_000).emitWithAck("subscribe", { jobId: job.id, token: job.token });
  expect(reply.ok, JSON.stringify(reply)).to.equal(true);
  const seen: JobView[] = await events;
  expect(seen.at(-1)?.status, "terminal event over Socket.IO").to.equal("succeeded");
  expect(seen.filter((v) => v.status === "running").length, "progress events over Socket.IO").to.be.at.least(2);
}

interface Setup {
  redis?: PrivateRedis;
  link?: TcpProxy;
  cluster?: Cluster;
  socket?: ClientSocket;
}

/** One API and two workers on a private Redis and a proxied RabbitMQ; a socket on the API. */
async function setUp(setup: Setup): Promise<void> {
  setup.redis = await startPrivateRedis();
  const broker = new URL(AMQP_URL);
  setup.link = await startTcpProxy({ host: broker.hostname, port: Number(broker.port || 5672) });
  const amqpUrl = new URL(AMQP_URL);
  amqpUrl.port = String(setup.link.port);
  setup.cluster = await startCluster({
    apis: 1,
    workers: 2,
    env: {
      REDIS_URL: setup.redis.url,
      AMQP_URL: amqpUrl.href,
      LEASE_MS: "3000",
      RATE_LIMIT_SUBMIT_PER_MINUTE: "0",
      RATE_LIMIT_READ_PER_MINUTE: "0",
      MAX_JOBS_IN_FLIGHT: "0",
      SOCKET_EVENTS_PER_SECOND: "1000",
      PUBLISH_TIMEOUT_MS: "2000",
    },
  });
  const api = setup.cluster.apis[0];
  if (!api) throw new Error("one API expected");
  setup.socket = await connectSocket(api.url);
}

async function tearDown(setup: Setup): Promise<void> {
  setup.socket?.close();
  await setup.cluster?.stop();
  await setup.link?.close();
  await setup.redis?.stop();
}

/** Runs `outage` OUTAGES times, each at a random moment while progress events flow; checks that
 * no process died during any of them, and that jobs run and reach Socket.IO afterwards. */
async function survives(setup: Setup, what: string, outage: (i: number) => Promise<void>): Promise<void> {
  const { cluster, socket } = setup;
  if (!cluster || !socket) throw new Error("setup failed");
  const all = [...cluster.apis, ...cluster.workers];
  const pids = all.map((p) => p.process.pid);
  const rand = prng(SEED);
  const traffic = startTraffic(cluster.apis[0]?.url ?? "", socket);
  try {
    // The API publishes an event on a cancel: have cancels going before the first outage.
    await pollUntil(() => traffic.canceled >= 1, { timeoutMs: 30_000, what: "a first job canceled" });
    for (let i = 1; i <= OUTAGES; i++) {
      // Events must be flowing when the outage starts: that is when publishes are in flight.
      const before = traffic.events;
      await pollUntil(() => traffic.events >= before + 50, {
        timeoutMs: 30_000,
        what: `progress events flowing before ${what} ${i}`,
      });
      await delay(Math.floor(rand() * 300)); // a random moment within the flow
      await outage(200 + Math.floor(rand() * 1_300)); // how long it lasts
      for (const [k, p] of all.entries()) expectAlive(p, pids[k], `${what} ${i}`);
    }
  } finally {
    await traffic.stop();
  }
  // An outage is answered 503 (retry later), never 500.
  expect(
    traffic.answers.filter((s) => s >= 500 && s !== 503),
    "5xx answers other than 503",
  ).to.deep.equal([]);
  await expectJobsFlowAgain(cluster, socket);
  for (const [k, p] of all.entries()) expectAlive(p, pids[k], `after the last ${what}`);
}

describe("issue 7 item 8: no Redis outage ends an API or worker process", function () {
  this.timeout(240_000);
  const setup: Setup = {};
  before(() => setUp(setup));
  after(() => tearDown(setup));

  it(`Redis killed -9 and restarted ${OUTAGES} times at random moments while progress events flow: every process lives, new jobs complete and reach Socket.IO (seed ${SEED})`, async () => {
    await survives(setup, "Redis kill", async (downMs) => {
      await setup.redis?.kill();
      await delay(downMs); // the outage's length, not a synchronisation
      await setup.redis?.start();
    });
  });
});

describe("issue 7 item 8: no RabbitMQ outage ends an API or worker process", function () {
  this.timeout(240_000);
  const setup: Setup = {};
  before(() => setUp(setup));
  after(() => tearDown(setup));

  it(`RabbitMQ link cut ${OUTAGES} times at random moments while progress events flow: every process lives, new jobs complete and reach Socket.IO (seed ${SEED})`, async () => {
    await survives(setup, "RabbitMQ cut", async (downMs) => {
      await setup.link?.cut();
      await delay(downMs);
      setup.link?.resume();
    });
  });
});
