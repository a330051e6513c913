// Issue 7 item 21: a page on another origin (listed in CORS_ORIGINS) uses the API as the README
// documents it: it submits with `X-API-Key` and an `Idempotency-Key`, and reads the response
// headers the README names (`Idempotent-Replayed`, `Location`, `ETag`, …). A real Chromium does
// the CORS preflight and enforces what the API allows and exposes.
import { createServer, type Server } from "node:http";
import { expect } from "chai";
import { type BrowserLease, sharedChromium } from "../helpers/browser.ts";
import { freePort } from "../helpers/net.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const apiKey = "cross-origin-test-key-0123456789";

describe("issue 7 item 21: a browser page on another origin, in CORS_ORIGINS", function () {
  this.timeout(60_000);
  let stack: Stack | undefined;
  let page: Server | undefined;
  let pageOrigin = "";
  let browser: BrowserLease | undefined;

  before(async () => {
    const port = await freePort();
    pageOrigin = `http://127.0.0.1:${port}`;
    page = createServer((_req, res) => res.end("<!doctype html><title>another origin</title>"));
    await new Promise<void>((resolve) => page?.listen(port, "127.0.0.1", resolve));
    stack = await startStack({ workers: 0, corsOrigins: [pageOrigin], env: { API_KEYS: `alice:${apiKey}` } });
    browser = await sharedChromium();
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
    await new Promise((resolve) => (page ? page.close(resolve) : resolve(undefined)));
  });

  it("submits with X-API-Key and reads Idempotent-Replayed and the other documented headers", async () => {
    const tab = await (browser as BrowserLease).newPage();
    await tab.goto(`${pageOrigin}/`);
    // The API is on a different port, hence a different origin: every request is cross-origin.
    // A string, not a function: tsx would wrap named helpers in a `__name` the page does not have.
    const seen = (await tab.evaluate(`(async () => {
      const submit = () => fetch(${JSON.stringify(`${(stack as Stack).baseUrl}/jobs`)}, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": ${JSON.stringify(apiKey)}, "idempotency-key": "k-1" },
        body: JSON.stringify({ type: "demo", payload: { steps: 1 } }),
      });
      const headers = (r) => Object.fromEntries(
        ["location", "etag", "retry-after", "idempotent-replayed", "x-herald-instance"].map((h) => [h, r.headers.get(h)]),
      );
      try {
        const first = await submit();
        const again = await submit();
        return { first: first.status, again: again.status, firstHeaders: headers(first), againHeaders: headers(again) };
      } catch (err) {
        return { error: String(err) };
      }
    })()`)) as Record<string, unknown>;
    expect(seen).to.not.have.property("error");
    expect(seen).to.include({ first: 202, again: 202 });
    const { firstHeaders, againHeaders } = seen as Record<string, Record<string, string | null>>;
    expect(againHeaders?.["idempotent-replayed"]).to.equal("true");
    expect(firstHeaders?.["idempotent-replayed"]).to.equal(null);
    for (const h of ["location", "retry-after", "x-herald-instance"]) expect(firstHeaders?.[h], h).to.be.a("string");
    expect(againHeaders?.location).to.equal(firstHeaders?.location);
  });
});
