// shared/worker/attempt-abort.ts: an attempt's abort, with the handler's AbortSignal made on first
// use and the handler raced against the abort without a listener on the signal.
import { expect } from "chai";
import { AttemptAbort } from "../../shared/worker/attempt-abort.ts";

describe("unit: an attempt's abort", () => {
  it("a signal asked for after the abort is aborted already, with the first reason", () => {
    const abort = new AttemptAbort();
    const first = new Error("timeout");
    abort.abort(first);
    abort.abort(new Error("cancel"));
    expect(abort.aborted).to.equal(true);
    expect(abort.reason).to.equal(first);
    expect(abort.signal.aborted).to.equal(true);
    expect(abort.signal.reason).to.equal(first);
  });

  it("a signal asked for before the abort fires with its reason", () => {
    const abort = new AttemptAbort();
    const { signal } = abort;
    const heard: unknown[] = [];
    signal.addEventListener("abort", () => heard.push(signal.reason));
    const why = new Error("cancel");
    abort.abort(why);
    expect(heard).to.deep.equal([why]);
  });

  it("the race ends with the handler's outcome, or with the reason as soon as it is aborted", async () => {
    const done = new AttemptAbort();
    expect(await done.race(Promise.resolve(7))).to.equal(7);
    const failed = new AttemptAbort();
    const boom = new Error("boom");
    await failed.race(Promise.reject(boom)).then(
      () => expect.fail("resolved"),
      (err: unknown) => expect(err).to.equal(boom),
    );
    const stuck = new AttemptAbort();
    const why = new Error("shutdown");
    const raced = stuck.race(new Promise(() => {})); // a handler that ignores its signal
    stuck.abort(why);
    await raced.then(
      () => expect.fail("resolved"),
      (err: unknown) => expect(err).to.equal(why),
    );
    const early = new AttemptAbort();
    early.abort(why);
    await early.race(Promise.resolve(1)).then(
      () => expect.fail("resolved"),
      (err: unknown) => expect(err).to.equal(why),
    );
  });
});
