// isUnavailable (shared/store/redis-client.ts): which Redis errors mean "unreachable, answer 503 and
// retry" rather than a bug. A cluster client stays ready while one node is down, so the error decides.
import { expect } from "chai";
import { ClientOfflineError, ErrorReply, SocketClosedUnexpectedlyError, TimeoutError } from "redis";
import { isUnavailable } from "../../shared/store/redis-client.ts";

describe("unit: isUnavailable (Redis errors that are a 503)", () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:7000"), { code: "ECONNREFUSED" });
  for (const [what, err] of [
    ["a refused connection to a node", refused],
    ["the offline queue refusing a command", new ClientOfflineError()],
    ["a socket closed under a command", new SocketClosedUnexpectedlyError()],
    ["a command timeout", new TimeoutError()],
    ["CLUSTERDOWN (a slot without a master yet)", new ErrorReply("CLUSTERDOWN The cluster is down")],
    ["TRYAGAIN", new ErrorReply("TRYAGAIN Multiple keys request during rehashing of slot")],
  ] as const) {
    it(`is true for ${what}`, () => expect(isUnavailable(err)).to.equal(true));
  }
  for (const [what, err] of [
    ["a command's own error", new ErrorReply("ERR wrong number of arguments")],
    [
      "CROSSSLOT (keys in several slots: a bug)",
      new ErrorReply("CROSSSLOT Keys in request don't hash to the same slot"),
    ],
    ["a plain Error", new Error("boom")],
    ["a non-error", "nope"],
  ] as const) {
    it(`is false for ${what}`, () => expect(isUnavailable(err)).to.equal(false));
  }
});
