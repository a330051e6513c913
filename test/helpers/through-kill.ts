// Jobs submitted before, during and after a broker fault, each followed over Socket.IO: the
// verdict of the cluster fault tests (test/faults/clusters.test.ts).
import { expect } from "chai";
import type { ClientSocket } from "../../shared/client/socket-channel.ts";
import { type AcceptedJob, isTerminal, type JobView } from "../../shared/jobs/schemas.ts";
import type { Names } from "../../shared/store/names.ts";
import { getStatus, postJob } from "./http.ts";
import { watchJobHistory } from "./job-history.ts";
import { pollUntil } from "./net.ts";
import { connectSocket } from "./realtime.ts";
import type { CommitWitness } from "./soak-witnesses.ts";
import { REDIS_URL } from "./stack.ts";

export interface KillTarget {
  /** The API (or nginx in front of several). */
  baseUrl: string;
  names: Names;
  /** The fault, e.g. kill -9 of a RabbitMQ node, or of the Redis master holding `running` (the
   * accepted jobs whose newest view at the socket is `running`); resolves once it has happened. */
  kill(running: readonly AcceptedJob[]): Promise<void>;
  /** True once every API and worker is connected to RabbitMQ again. */
  reconnected(): Promise<boolean>;
  /** The broker's side of things, for the message of a failure (e.g. the queues' state). */
  describe?(): Promise<string>;
  /** Who counts each job's commits. Default: the shared Redis's record writes (job-history.ts); on
   * a Redis Cluster, the nodes' AOFs (soak-witnesses.ts). */
  witness?(): Promise<CommitWitness>;
}

type Phase = "before" | "during" | "after";

export interface KillReport {
  /** HTTP status of every submit, by phase. */
  readonly answers: Readonly<Record<Phase, readonly number[]>>;
  readonly accepted: number;
  /** "202s before 6/6, during 20/27, after 6/6". */
  summary(): string;
  /** Every 202 ended `succeeded`, committed once, and its terminal state reached the socket: as
   * one `job` event, or in the subscribe ack of a job that ended before its subscribe went through
   * (or both, of the same version); every refusal was a 503; before and after the fault nothing was
   * refused. */
  check(): void;
}

/**
 * Submits 6 jobs at once and waits until the socket sees 2 run; starts the fault and keeps
 * submitting every 150 ms until 3 s after it; once everything has reconnected submits 6 more. Each 202'd job is subscribed over
 * Socket.IO at once. Every third job fails its first attempt, so its retry waits in a retry tier
 * across the fault. Resolves when every accepted job has reached its end at the socket.
 */
export async function jobsThroughKill(target: KillTarget): Promise<KillReport> {
  const socket = await connectSocket(target.baseUrl);
  const history = await (target.witness?.() ?? watchJobHistory(REDIS_URL, target.names));
  const accepted = new Map<string, AcceptedJob>();
  /** Terminal views by job: `job` events, and subscribe acks that already carried a terminal view
   * (a subscribe retried through the fault may go through only after the job ended; the ack then
   * holds the end, as a browser client applies it, and no event follows). */
  const terminal = new Map<string, JobView[]>();
  const acked = new Map<string, JobView>();
  const answers: Record<Phase, number[]> = { before: [], during: [], after: [] };
  /** The newest view of each job the socket has had (events come right after each commit): which
   * jobs run now, without waiting on the witness (an AOF witness re-reads whole files). */
  const newest = new Map<string, JobView>();
  const note = (view: JobView) => {
    const had = newest.get(view.id);
    if (!had || view.version >= had.version) newest.set(view.id, view);
  };
  const runningNow = () => [...accepted.values()].filter((job) => newest.get(job.id)?.status === "running");
  socket.on("job", (view: JobView) => {
    note(view);
    if (isTerminal(view.status)) terminal.set(view.id, [...(terminal.get(view.id) ?? []), view]);
  });
  let seq = 0;
  const submit = async (phase: Phase) => {
    const i = seq++;
    const payload = { steps: 4, stepMs: 250, ...(i % 3 === 0 ? { failAttempts: 1 } : {}) };
    const reply = await postJob(target.baseUrl, { type: "demo", payload });
    answers[phase].push(reply.status);
    if (reply.status !== 202) return;
    const job = reply.body as AcceptedJob;
    accepted.set(job.id, job);
    const view = await subscribe(socket, job);
    note(view);
    if (isTerminal(view.status)) acked.set(job.id, view);
  };
  try {
    // At once, so that several run together however long each submit takes on a busy machine.
    const before = await Promise.allSettled(Array.from({ length: 6 }, () => submit("before")));
    for (const r of before) if (r.status === "rejected") throw r.reason;
    await pollUntil(() => runningNow().length >= 2, { timeoutMs: 20_000, what: "jobs running before the kill" }).catch(
      (err: unknown) => {
        const states = [...accepted.keys()].map((id) => `${id}: ${newest.get(id)?.status ?? "no view"}`);
        throw new Error(`${String(err)}\nat the socket: ${states.join(", ")}`);
      },
    );
    let killedAt = 0;
    const running = runningNow();
    const killing = target.kill(running).finally(() => {
      killedAt = Date.now(); // a failed kill ends the submitting too, and fails below
    });
    killing.catch(() => undefined); // awaited after the loop
    while (killedAt === 0 || Date.now() - killedAt < 3_000) {
      await submit("during");
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await killing;
    await pollUntil(() => target.reconnected(), { timeoutMs: 30_000, what: "API and workers reconnected" }).catch(
      async (err: unknown) => {
        const broker = await target.describe?.().catch((e: unknown) => `(describe failed: ${String(e)})`);
        throw new Error(`${String(err)}\n${broker ?? ""}`);
      },
    );
    for (let i = 0; i < 6; i++) await submit("after");
    const ended = (id: string) => terminal.has(id) || acked.has(id);
    await pollUntil(() => [...accepted.keys()].every(ended), {
      timeoutMs: 90_000,
      everyMs: 200,
      what: `a terminal event (or terminal subscribe ack) for each of ${accepted.size} accepted jobs`,
    }).catch(async (err: unknown) => {
      const open = [...accepted.keys()].filter((id) => !ended(id));
      const states = open.map((id) => {
        const last = history.latest(id);
        return `${id}: ${last ? `${last.status} v${last.version} attempts ${last.attempts}` : "no change seen"}`;
      });
      const broker = await target.describe?.().catch((e: unknown) => `(describe failed: ${String(e)})`);
      throw new Error(
        `${String(err)}\n${open.length} without a terminal event:\n${states.join("\n")}\n${broker ?? ""}`,
      );
    });
    const finals = new Map<string, string>();
    for (const job of accepted.values()) finals.set(job.id, (await getStatus(target.baseUrl, job)).body.status);
    const succeededCommits = new Map([...accepted.keys()].map((id) => [id, history.succeededCommits(id)]));
    const disconnects = history.disconnects;
    const tally = (phase: Phase) => `${answers[phase].filter((s) => s === 202).length}/${answers[phase].length}`;
    return {
      answers,
      accepted: accepted.size,
      summary: () => `202s before ${tally("before")}, during ${tally("during")}, after ${tally("after")}`,
      check() {
        const all = Object.values(answers).flat();
        // A refused submit is a 503 (no confirm in time), never anything else.
        expect(
          all.filter((s) => s !== 202 && s !== 503),
          `answers: ${JSON.stringify(answers)}`,
        ).to.deep.equal([]);
        expect(
          answers.before.every((s) => s === 202),
          `answers before: ${answers.before}`,
        ).to.equal(true);
        expect(
          answers.after.every((s) => s === 202),
          `answers after: ${answers.after}`,
        ).to.equal(true);
        expect(answers.during.length).to.be.greaterThan(0);
        for (const id of accepted.keys()) {
          expect(finals.get(id), `job ${id}`).to.equal("succeeded");
          expect(succeededCommits.get(id), `succeeded commits of ${id}`).to.equal(1);
          const events = terminal.get(id) ?? [];
          const ack = acked.get(id);
          // At most one terminal event; the ack's terminal view, if any, is the same version.
          expect(events.length, `terminal events of ${id}`).to.be.at.most(1);
          const views = [...events, ...(ack ? [ack] : [])];
          expect(
            views.map((v) => v.status),
            `terminal views of ${id}`,
          ).to.include("succeeded");
          expect(new Set(views.map((v) => `${v.status} v${v.version}`)).size, `terminal views of ${id}`).to.equal(1);
        }
        expect(disconnects, "the history watcher saw every commit").to.equal(0);
      },
    };
  } finally {
    socket.close();
    await history.close();
  }
}

/** Subscribes as a browser client would: a refusal with status 503 (the job's state unreachable for
 * a moment, e.g. its Redis master failing over) is asked again, for up to 30 s; any other refuses. */
async function subscribe(socket: ClientSocket, job: AcceptedJob): Promise<JobView> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const reply = await socket.timeout(5_000).emitWithAck("subscribe", { jobId: job.id, token: job.token });
    if (reply.ok) return reply.job;
    if (reply.error.status !== 503 || Date.now() > deadline)
      throw new Error(`subscribe refused: ${JSON.stringify(reply.error)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
