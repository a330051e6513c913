// Issue 7 item 19: the shipped deploy/nginx.conf, run in a real nginx in front of real API
// processes exactly as docker-compose.yml uses it (only upstream addresses, listen address and log
// paths substituted), keeps the promises the README makes: a page's own origin may open a
// WebSocket, BODY_LIMIT_BYTES decides which bodies are too large (answered with problem+json), and
// the client address the API rate-limits by is the peer nginx saw, whatever X-Forwarded-For says.
import { request as httpRequest } from "node:http";
import { expect } from "chai";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { type BrowserLease, sharedChromium } from "../helpers/browser.ts";
import { type Cluster, fetchFrom, loopbackClient, startCluster } from "../helpers/cluster.ts";
import { scanKeys } from "../helpers/redis-keys.ts";
import { log, REDIS_URL } from "../helpers/stack.ts";

const MiB = 1024 * 1024;
const bodyLimit = 1.5 * MiB; // above nginx's default client_max_body_size (1m)

/** A raw WebSocket handshake to Socket.IO: the status nginx and the API answer it with. */
function websocketHandshake(baseUrl: string, origin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${baseUrl}/socket.io/?EIO=4&transport=websocket`, {
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        Origin: origin,
      },
      timeout: 10_000,
    });
    req.once("upgrade", (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.once("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once("timeout", () => req.destroy(new Error("handshake timed out")));
    req.once("error", reject);
    req.end();
  });
}

/** A job request padded with JSON whitespace to exactly `bytes` bytes. */
function paddedJob(bytes: number): string {
  const json = JSON.stringify({ type: "demo", payload: { steps: 1, stepMs: 0 } });
  return json + " ".repeat(bytes - Buffer.byteLength(json));
}

describe("issue 7 item 19: the shipped deploy/nginx.conf in front of real API processes", function () {
  this.timeout(60_000);
  let cluster: Cluster | undefined;
  const c = (): Cluster => {
    if (!cluster) throw new Error("setup failed");
    return cluster;
  };

  before(async () => {
    cluster = await startCluster({
      apis: 2,
      workers: 0,
      nginx: { config: "shipped" },
      env: {
        TRUST_PROXY: "true",
        BODY_LIMIT_BYTES: String(bodyLimit),
        RATE_LIMIT_SUBMIT_PER_MINUTE: "1000",
        CORS_ORIGINS: "",
      },
    });
  });
  after(async () => {
    await cluster?.stop();
  });

  it("lets a page's own origin (host with port) open a WebSocket; another origin is refused", async () => {
    const origin = c().baseUrl; // http://127.0.0.1:<nginx port>, as a browser on the page sends it
    for (let i = 0; i < 4; i++) expect(await websocketHandshake(c().baseUrl, origin), origin).to.equal(101);
    expect(await websocketHandshake(c().baseUrl, "http://elsewhere.example")).to.not.equal(101);
  });

  it("lets a real browser on the demo page open Socket.IO's WebSocket transport", async () => {
    let browser: BrowserLease | undefined;
    try {
      browser = await sharedChromium();
      const page = await browser.newPage();
      await page.goto(`${c().baseUrl}/demo`);
      const outcome = await page.evaluate(
        () =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(`ws://${location.host}/socket.io/?EIO=4&transport=websocket`);
            ws.onmessage = (e) => {
              resolve(`message ${String(e.data).slice(0, 1)}`);
              ws.close();
            };
            ws.onclose = (e) => resolve(`closed ${e.code}`);
          }),
      );
      expect(outcome, "engine.io's open packet (type 0)").to.equal("message 0");
    } finally {
      await browser?.close();
    }
  });

  it("passes a body just under BODY_LIMIT_BYTES to the API, which accepts the job", async () => {
    const res = await fetch(`${c().baseUrl}/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: paddedJob(bodyLimit - 16),
    });
    const text = await res.text();
    expect(res.status, text.slice(0, 300)).to.equal(202);
  });

  it("answers a 2 MiB body with the API's problem+json 413, not nginx's HTML page", async () => {
    const res = await fetch(`${c().baseUrl}/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: paddedJob(2 * MiB),
    });
    const text = await res.text();
    expect(res.status).to.equal(413);
    expect(res.headers.get("content-type"), text.slice(0, 300)).to.match(/^application\/problem\+json/);
    expect(JSON.parse(text)).to.include({ type: "urn:herald:problem:payload-too-large", limit: bodyLimit });
    expect(res.headers.get("x-herald-instance"), "answered by an API instance").to.match(/^api-\d$/);
  });

  it("answers a body over nginx's own cap with problem+json too", async () => {
    // Headers only: nginx judges Content-Length before reading any body.
    const { status, type, body } = await new Promise<{ status: number; type: string; body: string }>(
      (resolve, reject) => {
        const req = httpRequest(`${c().baseUrl}/jobs`, {
          method: "POST",
          headers: { "content-type": "application/json", "content-length": String(65 * MiB) },
        });
        req.once("response", (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.once("end", () => {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body: text });
          });
        });
        req.once("error", reject);
        req.flushHeaders();
      },
    );
    expect(status).to.equal(413);
    expect(type, body).to.match(/^application\/problem\+json/);
    expect(JSON.parse(body)).to.include({ type: "urn:herald:problem:payload-too-large", status: 413 });
  });

  it("rate-limits by the peer nginx saw: X-Forwarded-For entries a client writes are not its address", async () => {
    const cl = c();
    const client = loopbackClient(23);
    for (let i = 1; i <= 3; i++) {
      const res = await fetchFrom(client, `${cl.baseUrl}/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": `10.99.0.${i}` },
        body: paddedJob(100),
      });
      await res.arrayBuffer();
      expect(res.status).to.equal(202);
    }
    const redis = await connectRedis(REDIS_URL, log, 5_000);
    try {
      const ns = cl.names.namespace;
      const clients = (await scanKeys(redis, `${ns}:rate:submit:*`)).map((k) =>
        k.slice(`${ns}:rate:submit:`.length).replace(/:\d+$/, ""),
      );
      expect(clients).to.include(`ip:${client}`);
      expect(
        clients.filter((k) => k.startsWith("ip:10.99.")),
        "a key per forged address",
      ).to.deep.equal([]);
    } finally {
      await redis.close();
    }
  });
});
