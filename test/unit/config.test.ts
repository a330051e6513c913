// shared/runtime/config.ts: defaults, environment overrides, and fail-fast on nonsense.
import { expect } from "chai";
import { ConfigError, loadConfig, redactUrl } from "../../shared/runtime/config.ts";

describe("unit: config", () => {
  it("has working defaults for a bare environment", () => {
    const c = loadConfig({});
    expect(c).to.include({
      host: "127.0.0.1",
      port: 3000,
      redisUrl: "redis://127.0.0.1:6379",
      namespace: "herald",
      bodyLimitBytes: 1024 * 1024,
      resultLimitBytes: 1024 * 1024,
      jobTtlSeconds: 24 * 3600,
      workerPrefetch: 4,
      connectTimeoutMs: 30_000,
      publishTimeoutMs: 5_000,
      retryAfterSeconds: 1,
      retryAfterMaxSeconds: 30,
      shutdownGraceMs: 10_000,
      logLevel: "info",
    });
    expect(c.amqpUrls).to.deep.equal(["amqp://guest:guest@127.0.0.1:5672"]);
    expect(c.queueType).to.equal("classic");
    expect(c.queueDeliveryLimit).to.equal(50);
    expect(c.instanceId).to.be.a("string").and.not.equal("");
    expect(Object.isFrozen(c)).to.equal(true);
  });

  it("takes every value from the environment, numbers parsed", () => {
    const c = loadConfig({
      HOST: "0.0.0.0",
      PORT: "8080",
      AMQP_URL: "amqps://u:p@mq.example:5671/vh",
      REDIS_URL: "rediss://r.example:6380/2",
      HERALD_NAMESPACE: "Tenant_1.a-b",
      INSTANCE_ID: "api-7",
      BODY_LIMIT_BYTES: "2048",
      RESULT_LIMIT_BYTES: "4096",
      JOB_TTL_SECONDS: "60",
      WORKER_PREFETCH: "16",
      CONNECT_TIMEOUT_MS: "1500",
      PUBLISH_TIMEOUT_MS: "250",
      RETRY_AFTER_SECONDS: "2",
      RETRY_AFTER_MAX_SECONDS: "9",
      SHUTDOWN_GRACE_MS: "500",
      LOG_LEVEL: "debug",
      QUEUE_TYPE: "quorum",
      QUEUE_DELIVERY_LIMIT: "7",
    });
    expect(c.amqpUrls).to.deep.equal(["amqps://u:p@mq.example:5671/vh"]);
    expect(c.queueType).to.equal("quorum");
    expect(c.queueDeliveryLimit).to.equal(7);
    expect(c).to.include({
      host: "0.0.0.0",
      port: 8080,
      redisUrl: "rediss://r.example:6380/2",
      namespace: "Tenant_1.a-b",
      instanceId: "api-7",
      bodyLimitBytes: 2048,
      resultLimitBytes: 4096,
      jobTtlSeconds: 60,
      workerPrefetch: 16,
      connectTimeoutMs: 1500,
      publishTimeoutMs: 250,
      retryAfterSeconds: 2,
      retryAfterMaxSeconds: 9,
      shutdownGraceMs: 500,
      logLevel: "debug",
    });
  });

  it("issue 8: REDIS_CLUSTER_NODES (host:port or redis:// URLs, first entry's login for all) wins over REDIS_URL", () => {
    expect(loadConfig({}).redis).to.deep.equal({ mode: "single", url: "redis://127.0.0.1:6379" });
    expect(loadConfig({ REDIS_URL: "redis://r:6380" }).redis).to.deep.equal({ mode: "single", url: "redis://r:6380" });
    expect(loadConfig({ REDIS_CLUSTER_NODES: " 10.0.0.1:7000, r2.example:7001 ,[::1]:7002" }).redis).to.deep.equal({
      mode: "cluster",
      nodes: ["redis://10.0.0.1:7000", "redis://r2.example:7001", "redis://[::1]:7002"],
    });
    const c = loadConfig({
      REDIS_URL: "redis://ignored:6379",
      REDIS_CLUSTER_NODES: "rediss://herald:s%3Acret@r1:7000,rediss://r2:7000,rediss://herald:s%3Acret@r3:7000",
    });
    expect(c.redis).to.deep.equal({
      mode: "cluster",
      nodes: [
        "rediss://herald:s%3Acret@r1:7000",
        "rediss://herald:s%3Acret@r2:7000",
        "rediss://herald:s%3Acret@r3:7000",
      ],
    });
    expect(Object.isFrozen(c.redis)).to.equal(true);
    // Both set: the cluster wins, and the process says so at start (config.warnings).
    expect(c.warnings).to.deep.equal([
      "REDIS_URL is ignored: REDIS_CLUSTER_NODES is set, so every Redis use goes to the cluster",
    ]);
    expect(loadConfig({ REDIS_CLUSTER_NODES: "r1:7000" }).warnings).to.deep.equal([]);
    expect(loadConfig({ REDIS_URL: "redis://r:6380" }).warnings).to.deep.equal([]);
    // A bare host:port after a URL with a login takes that login (and its scheme must match: redis://).
    expect(loadConfig({ REDIS_CLUSTER_NODES: "redis://:pw@r1:7000,r2:7000" }).redis).to.deep.equal({
      mode: "cluster",
      nodes: ["redis://:pw@r1:7000", "redis://:pw@r2:7000"],
    });
  });

  it("treats an empty variable as unset (the default applies)", () => {
    const c = loadConfig({ PORT: "", LOG_LEVEL: "", HERALD_NAMESPACE: "" });
    expect(c.port).to.equal(3000);
    expect(c.logLevel).to.equal("info");
    expect(c.namespace).to.equal("herald");
  });

  it("accepts 0 where 0 means something (any free port, no connect wait, no shutdown grace)", () => {
    const c = loadConfig({ PORT: "0", CONNECT_TIMEOUT_MS: "0", SHUTDOWN_GRACE_MS: "0" });
    expect(c.port).to.equal(0);
    expect(c.connectTimeoutMs).to.equal(0);
    expect(c.shutdownGraceMs).to.equal(0);
  });

  const nonsense: Record<string, string>[] = [
    { PORT: "abc" },
    { PORT: "3000abc" },
    { PORT: "65536" },
    { PORT: "-1" },
    { PORT: "80.5" },
    { PORT: "   " },
    { BODY_LIMIT_BYTES: "0" },
    { WORKER_PREFETCH: "0" },
    { PUBLISH_TIMEOUT_MS: "0" },
    { RETRY_AFTER_SECONDS: "0" },
    { JOB_TTL_SECONDS: "forever" },
    { LOG_LEVEL: "verbose" },
    { AMQP_URL: "http://127.0.0.1:5672" },
    { AMQP_URL: "amqp://a:5672,http://b:5672" },
    { AMQP_URL: "amqp://a:5672,,amqp://b:5672" },
    { AMQP_URL: "amqp://a:5672,b:5672" },
    { QUEUE_TYPE: "stream" },
    { QUEUE_DELIVERY_LIMIT: "0" },
    { REDIS_URL: "127.0.0.1:6379" },
    { REDIS_CLUSTER_NODES: "   " },
    { REDIS_CLUSTER_NODES: "r1:7000,,r2:7000" },
    { REDIS_CLUSTER_NODES: "r1" },
    { REDIS_CLUSTER_NODES: "r1:7000,r2" },
    { REDIS_CLUSTER_NODES: "r1:port" },
    { REDIS_CLUSTER_NODES: "http://r1:7000" },
    { REDIS_CLUSTER_NODES: "redis://r1:7000/2" },
    { REDIS_CLUSTER_NODES: "redis://r1:7000,rediss://r2:7000" },
    { REDIS_CLUSTER_NODES: "redis://a:pw@r1:7000,redis://b:other@r2:7000" },
    { HERALD_NAMESPACE: "has space" },
    { HERALD_NAMESPACE: "a:b" },
    { HERALD_NAMESPACE: "x".repeat(65) },
    { TRUST_PROXY_HOPS: "2" }, // without TRUST_PROXY=true
    { HERALD_SECRET: "too-short" },
  ];
  for (const env of nonsense) {
    it(`refuses ${JSON.stringify(env)} with a ConfigError naming the variable`, () => {
      const name = Object.keys(env)[0] ?? "";
      expect(() => loadConfig(env))
        .to.throw(ConfigError)
        .with.property("message")
        .that.includes(name);
    });
  }

  it("names every bad variable at once", () => {
    try {
      loadConfig({ PORT: "abc", LOG_LEVEL: "loud", WORKER_PREFETCH: "lots" });
      expect.fail("loadConfig accepted nonsense");
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      const message = (err as Error).message;
      for (const name of ["PORT", "LOG_LEVEL", "WORKER_PREFETCH"]) expect(message).to.include(name);
    }
  });

  it("refuses RETRY_AFTER_MAX_SECONDS below RETRY_AFTER_SECONDS, accepts them equal", () => {
    expect(() => loadConfig({ RETRY_AFTER_SECONDS: "10", RETRY_AFTER_MAX_SECONDS: "5" }))
      .to.throw(ConfigError)
      .with.property("message")
      .that.includes("RETRY_AFTER_MAX_SECONDS");
    expect(loadConfig({ RETRY_AFTER_SECONDS: "5", RETRY_AFTER_MAX_SECONDS: "5" }).retryAfterMaxSeconds).to.equal(5);
  });

  it("issue 7 item 10: TRUST_PROXY_HOPS is 1 by default behind a proxy, 0 without one, ≥ 1 when set", () => {
    expect(loadConfig({}).trustProxyHops).to.equal(0);
    expect(loadConfig({ TRUST_PROXY: "true" }).trustProxyHops).to.equal(1);
    expect(loadConfig({ TRUST_PROXY: "true", TRUST_PROXY_HOPS: "2" }).trustProxyHops).to.equal(2);
    expect(() => loadConfig({ TRUST_PROXY: "true", TRUST_PROXY_HOPS: "0" }))
      .to.throw(ConfigError)
      .with.property("message")
      .that.includes("TRUST_PROXY_HOPS");
  });

  it("issue 7 item 13: JWT_ALGORITHMS defaults by key source and takes only algorithms of that kind", () => {
    const secret = { JWT_SECRET: "s".repeat(32) };
    const jwks = { JWT_JWKS_URL: "https://issuer.example/jwks.json" };
    expect(loadConfig({}).jwt.algorithms).to.deep.equal([]);
    expect(loadConfig(secret).jwt.algorithms).to.deep.equal(["HS256"]);
    expect(loadConfig(jwks).jwt.algorithms).to.deep.equal(["RS256", "ES256"]);
    expect(loadConfig({ ...secret, JWT_ALGORITHMS: "HS384, HS512" }).jwt.algorithms).to.deep.equal(["HS384", "HS512"]);
    expect(loadConfig({ ...jwks, JWT_ALGORITHMS: "EdDSA" }).jwt.algorithms).to.deep.equal(["EdDSA"]);
    for (const env of [
      { ...secret, JWT_ALGORITHMS: "RS256" },
      { ...jwks, JWT_ALGORITHMS: "HS256" },
      { ...jwks, JWT_ALGORITHMS: "none" },
      { ...jwks, JWT_ALGORITHMS: " , " },
      { JWT_ALGORITHMS: "HS256" }, // no key source
    ]) {
      expect(() => loadConfig(env), JSON.stringify(env))
        .to.throw(ConfigError)
        .with.property("message")
        .that.includes("JWT_ALGORITHMS");
    }
  });

  it("redactUrl hides the password and nothing else", () => {
    expect(redactUrl("amqp://guest:guest@127.0.0.1:5672")).to.equal("amqp://guest:***@127.0.0.1:5672");
    expect(redactUrl("redis://:s3cret@10.0.0.1:6379/0")).to.equal("redis://:***@10.0.0.1:6379/0");
    expect(redactUrl("redis://127.0.0.1:6379")).to.equal("redis://127.0.0.1:6379");
    expect(redactUrl("not a url")).to.not.include("not a url");
  });
});
