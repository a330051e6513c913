// Issue 11 (Logs): pino JSON lines keep their shape (msg, fields, level names), and secrets never
// reach them: authorization, x-api-key, cookie, tokens, and access_token in any URL.
import { expect } from "chai";
import { createLogger } from "../../shared/observability/log.ts";

function capture(level: "debug" | "info" = "info") {
  const lines: string[] = [];
  const destination = { write: (s: string) => void lines.push(...s.split("\n").filter(Boolean)) };
  const log = createLogger(level, { service: "api" }, { destination });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("issue 11 (Logs): pino lines and redaction", () => {
  it("writes one JSON line per event with msg, level name, base and child fields", () => {
    const { log, lines, parsed } = capture();
    log.child({ requestId: "r-1" }).info("job finished", { jobId: "j", status: "succeeded" });
    log.debug("hidden at info");
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include('"msg":"job finished","service":"api"');
    expect(parsed()[0]).to.include({
      level: "info",
      msg: "job finished",
      requestId: "r-1",
      jobId: "j",
      status: "succeeded",
    });
    expect(Date.parse(String(parsed()[0]?.time))).to.be.greaterThan(0);
  });

  it("serialises an Error field with its message and stack", () => {
    const { log, parsed } = capture();
    log.error("boom", { error: new Error("it broke") });
    expect(parsed()[0]?.error).to.include({ name: "Error", message: "it broke" });
  });

  it("redacts authorization, x-api-key, cookie and tokens, at the top and in nested headers", () => {
    const { log, lines } = capture();
    log.info("secrets", {
      authorization: "Bearer top-secret-1",
      "x-api-key": "top-secret-2",
      token: "top-secret-3",
      access_token: "top-secret-4",
      headers: { authorization: "Bearer top-secret-5", "x-api-key": "top-secret-6", cookie: "sid=top-secret-7" },
      req: { headers: { authorization: "Bearer top-secret-8", cookie: "sid=top-secret-9" } },
    });
    expect(lines).to.have.length(1);
    expect(lines[0]).to.not.match(/top-secret/);
    expect(lines[0]).to.include('"authorization":"[Redacted]"');
  });

  it("redacts access_token inside any URL string, keeping the rest of the URL", () => {
    const { log, lines, parsed } = capture();
    log.warn("fetching", {
      url: "http://h/jobs/1/events?x=1&access_token=top-secret-a&y=2",
      nested: { urls: ["/jobs/2?access_token=top-secret-b"] },
      error: new Error("GET /jobs/3?access_token=top-secret-c failed"),
    });
    expect(lines[0]).to.not.match(/top-secret/);
    expect(parsed()[0]?.url).to.equal("http://h/jobs/1/events?x=1&access_token=[Redacted]&y=2");
  });
});
