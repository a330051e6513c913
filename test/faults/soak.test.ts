// Issue 7, "Must show": the chaos soak, short. 48 demo jobs (some failing their first tries on
// purpose, so they run on their last attempt) through 2 APIs behind nginx and 3 worker processes
// on a private AOF Redis: one worker SIGKILLed and one SIGTERMed while each provably runs a job
// (the SIGTERM one on its last attempt), one API SIGKILLed, the RabbitMQ link cut once, Redis
// SIGKILLed once while jobs run; every victim restarted. Nothing accepted may be lost, run twice,
// or end otherwise than its payload and the SIGKILLs that hit it allow; no process may crash.
// `npm run soak` is the long version (test/helpers/soak.ts).
import { expect } from "chai";
import { formatDetails, formatReport, runSoak, type SoakReport } from "../helpers/soak.ts";

describe("issue 7: short chaos soak (worker kill -9 and SIGTERM, API kill -9, RabbitMQ cut, Redis kill -9)", function () {
  // About a minute on a quiet 2-core machine; the bound leaves room for a loaded one.
  this.timeout(240_000);
  let report: SoakReport | undefined;

  before(async () => {
    report = await runSoak({ jobs: 48, kills: 1, terms: 1, apiKills: 1, cuts: 1, redisKills: 1, seed: 7 });
    const details = formatDetails(report);
    console.log(`${formatReport(report)}${details ? `\n${details}` : ""}`.replace(/^/gm, "      "));
  });

  it("does every fault, each worker fault while the worker runs a job", () => {
    const r = report as SoakReport;
    expect(r.details.skipped, "faults that found nothing to hit").to.deep.equal([]);
    expect([r.workerKills, r.workerTerms, r.apiKills, r.cuts, r.redisKills]).to.deep.equal([1, 1, 1, 1, 1]);
    expect(r.hit.killed, "attempts the SIGKILL hit").to.be.at.least(1);
    expect(r.hit.termed, "attempts the SIGTERM hit").to.be.at.least(1);
    expect(r.hit.termedLastAttempt, "the SIGTERM hit a job on its last attempt").to.be.at.least(1);
    expect(r.hit.redisKilled, "jobs running when Redis was killed").to.be.at.least(1);
    expect(r.witnesses.aofComplete, "the AOF holds the whole history").to.equal(true);
  });

  it("accepts every job and loses none", () => {
    const r = report as SoakReport;
    expect(r.accepted).to.equal(48);
    expect(r.lost, "lost jobs (listed above)").to.equal(0);
    expect(r.succeeded + r.failed + r.canceled).to.equal(48);
  });

  it("runs no job to completion twice", () => {
    const r = report as SoakReport;
    expect(r.duplicated, "jobs completed twice (listed above)").to.equal(0);
  });

  it("ends every job as its payload and the SIGKILLs that hit it say", () => {
    const r = report as SoakReport;
    expect(r.wrongOutcomes, "jobs that ended wrong (listed above)").to.equal(0);
    expect(r.canceled, "nobody canceled a job").to.equal(0);
  });

  it("crashes no process", () => {
    const r = report as SoakReport;
    expect(r.crashes, "crashed processes (listed above)").to.equal(0);
  });
});
