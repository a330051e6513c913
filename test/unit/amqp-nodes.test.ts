// shared/runtime/amqp-nodes.ts: AMQP_URL as a list of cluster nodes, and QUEUE_TYPE's default.
import { expect } from "chai";
import { defaultQueueType, parseAmqpUrls } from "../../shared/runtime/amqp-nodes.ts";
import { loadConfig } from "../../shared/runtime/config.ts";

describe("unit: AMQP_URL node lists and QUEUE_TYPE", () => {
  it("keeps a single URL as it is", () => {
    expect(parseAmqpUrls("amqp://guest:guest@127.0.0.1:5672")).to.deep.equal(["amqp://guest:guest@127.0.0.1:5672"]);
    expect(parseAmqpUrls("amqps://u:p@mq.example:5671/vh?heartbeat=5")).to.deep.equal([
      "amqps://u:p@mq.example:5671/vh?heartbeat=5",
    ]);
  });

  it("splits on commas, trims, and keeps the order (the order nodes are tried in)", () => {
    expect(parseAmqpUrls(" amqp://u:p@mq3:5672 , amqp://u:p@mq1:5672,amqp://u:p@mq2:5672 ")).to.deep.equal([
      "amqp://u:p@mq3:5672",
      "amqp://u:p@mq1:5672",
      "amqp://u:p@mq2:5672",
    ]);
  });

  it("gives a later entry without credentials, vhost or query the first entry's", () => {
    expect(parseAmqpUrls("amqp://app:s3cret@mq1:5672/prod?heartbeat=10,amqp://mq2:5673,amqp://mq3")).to.deep.equal([
      "amqp://app:s3cret@mq1:5672/prod?heartbeat=10",
      "amqp://app:s3cret@mq2:5673/prod?heartbeat=10",
      "amqp://app:s3cret@mq3/prod?heartbeat=10",
    ]);
  });

  it("leaves what a later entry says itself: its own credentials, vhost or query", () => {
    expect(parseAmqpUrls("amqp://a:1@mq1/prod?heartbeat=5,amqp://b:2@mq2/other,amqp://mq3?heartbeat=30")).to.deep.equal(
      ["amqp://a:1@mq1/prod?heartbeat=5", "amqp://b:2@mq2/other?heartbeat=5", "amqp://a:1@mq3/prod?heartbeat=30"],
    );
  });

  const bad: [string, RegExp][] = [
    ["", /empty entry/],
    ["amqp://a:5672,", /empty entry/],
    ["amqp://a:5672,http://b:5672", /"http:\/\/b:5672" is not an amqp/],
    ["amqp://a:5672,b:5672", /"b:5672" is not an amqp/],
    ["mq1:5672", /not an amqp/],
    ["amqp://", /names no host|not a URL/],
  ];
  for (const [raw, why] of bad) {
    it(`refuses ${JSON.stringify(raw)} naming the bad entry`, () => {
      expect(() => parseAmqpUrls(raw)).to.throw(TypeError, why);
    });
  }

  it("defaults QUEUE_TYPE to quorum for several nodes and to classic for one", () => {
    expect(defaultQueueType(["amqp://a"])).to.equal("classic");
    expect(defaultQueueType(["amqp://a", "amqp://b"])).to.equal("quorum");
    expect(loadConfig({}).queueType).to.equal("classic");
    expect(loadConfig({ AMQP_URL: "amqp://mq1,amqp://mq2,amqp://mq3" }).queueType).to.equal("quorum");
  });

  it("lets QUEUE_TYPE override the default either way", () => {
    expect(loadConfig({ AMQP_URL: "amqp://mq1,amqp://mq2", QUEUE_TYPE: "classic" }).queueType).to.equal("classic");
    expect(loadConfig({ AMQP_URL: "amqp://mq1", QUEUE_TYPE: "quorum" }).queueType).to.equal("quorum");
  });

  it("reports a bad entry through loadConfig as a ConfigError naming AMQP_URL", () => {
    expect(() => loadConfig({ AMQP_URL: "amqp://mq1,redis://mq2" })).to.throw(/AMQP_URL: "redis:\/\/mq2"/);
  });
});
