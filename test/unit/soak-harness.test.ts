// The soak's own judgement: which end a job may have, and the two parsers its witnesses rely on
// (Redis MONITOR lines, the append-only file). A mistake here would hide a bug or invent one.
import { expect } from "chai";
import { names } from "../../shared/store/names.ts";
import { parseResp } from "../helpers/aof.ts";
import { jobSet, recordFields } from "../helpers/job-writes.ts";
import { parseQuoted } from "../helpers/redis-monitor.ts";
import { expectedOutcome, mismatch, PROBLEM } from "../helpers/soak-verdict.ts";

describe("soak harness: expected outcomes", () => {
  const none = new Set<number>();

  it("a job failing fewer tries than it has must succeed; one failing all of them fails with its own error", () => {
    expect(expectedOutcome(0, 3, none)).to.deep.equal({ status: "succeeded" });
    expect(expectedOutcome(2, 3, none)).to.deep.equal({ status: "succeeded" });
    expect(expectedOutcome(3, 3, none)).to.deep.equal({ status: "failed", errorTypes: [PROBLEM.jobFailed] });
  });

  it("a SIGKILLed attempt is spent: on the last one, the job fails as exhausted", () => {
    expect(expectedOutcome(2, 3, new Set([1]))).to.deep.equal({ status: "succeeded" }); // 1 killed, 2 fails, 3 runs
    expect(expectedOutcome(1, 3, new Set([2]))).to.deep.equal({ status: "succeeded" }); // 3 runs
    expect(expectedOutcome(2, 3, new Set([3])).status).to.equal("failed");
    expect(expectedOutcome(0, 3, new Set([1, 2, 3]))).to.deep.equal({
      status: "failed",
      errorTypes: [PROBLEM.attemptsExhausted, PROBLEM.workerLost],
    });
    expect(expectedOutcome(1, 3, new Set([3]))).to.deep.equal({ status: "succeeded" }); // 2 succeeds first
  });

  it("tells a wrong status, and a failure of the wrong kind, from the expected end", () => {
    expect(mismatch({ status: "succeeded" }, { status: "succeeded" })).to.equal(null);
    expect(mismatch({ status: "succeeded" }, { status: "failed", errorType: PROBLEM.attemptsExhausted })).to.match(
      /expected succeeded, got failed/,
    );
    const failed = expectedOutcome(3, 3, none);
    expect(mismatch(failed, { status: "failed", errorType: PROBLEM.jobFailed })).to.equal(null);
    expect(mismatch(failed, { status: "failed", errorType: PROBLEM.attemptsExhausted })).to.match(/attempts-exhausted/);
    expect(mismatch(failed, { status: "canceled" })).to.match(/got canceled/);
  });
});

describe("soak harness: witnesses' parsers", () => {
  it("reads MONITOR's escaped arguments back to the bytes sent (quotes, backslashes, UTF-8)", () => {
    // As redis-server 7 printed `EVAL … '{"a":"b\"c","x":"é"}'`.
    const line = String.raw`"SET" "ns:job:1" "{\"a\":\"b\\\"c\",\"x\":\"\xc3\xa9\"}" "EX" "3600"`;
    expect(parseQuoted(line)).to.deep.equal(["SET", "ns:job:1", '{"a":"b\\"c","x":"é"}', "EX", "3600"]);
    expect(parseQuoted(String.raw`"a\r\nb" "" "\t"`)).to.deep.equal(["a\r\nb", "", "\t"]);
  });

  it("reads RESP commands from an AOF and ignores a truncated tail", () => {
    const aof = Buffer.from(
      "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n*3\r\n$3\r\nSET\r\n$1\r\nk",
    );
    expect(parseResp(aof)).to.deep.equal([
      ["SELECT", "0"],
      ["SET", "k", "é"],
    ]);
  });

  it("finds job records among SETs: the record key only, not a result", () => {
    const id = "0b7e6eb6-e8ab-4ee5-b417-44fcd82c3df0";
    const json = JSON.stringify({ id, status: "running", attempts: 2, version: 7, progress: { percent: 40 } });
    const n = names("ns");
    expect(jobSet("ns", ["SET", n.jobKey(id), json, "PXAT", "1"])).to.deep.equal({ id, json });
    expect(jobSet("ns", ["SET", n.resultKey(id), "{}"])).to.equal(null);
    expect(jobSet("ns", ["GET", n.jobKey(id)])).to.equal(null);
    expect(jobSet("other", ["SET", n.jobKey(id), json])).to.equal(null);
    expect(recordFields(json)).to.deep.equal({ id, status: "running", attempts: 2, version: 7, percent: 40 });
  });
});
