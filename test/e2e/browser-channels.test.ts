// Issue 7 items 16 and 17: the channels as a real browser (Debian's Chromium) uses them, from a page
// the API serves, with the client library it serves at /client.js. A browser's fetch cannot read a
// redirect it does not follow, and its EventSource reconnects whenever a 200 stream ends.
import { expect } from "chai";
import type { Page } from "playwright-core";
import type { AcceptedJob, JobView } from "../../shared/jobs/schemas.ts";
import { type BrowserLease, sharedChromium } from "../helpers/browser.ts";
import { pollToEnd, submit } from "../helpers/http.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

/** One request the API answered: what a browser really sent, counted at the server. */
interface Seen {
  url: string;
  lastEventId: string | undefined;
  status: number;
}

describe("e2e: client channels in a real browser (Chromium)", function () {
  this.timeout(90_000);
  let stack: Stack | undefined;
  let browser: BrowserLease | undefined;
  let page: Page;
  const seen: Seen[] = [];

  before(async () => {
    stack = await startStack({ env: { RATE_LIMIT_READ_PER_MINUTE: "0" } });
    stack.api.server.on("request", (req, res) => {
      res.on("finish", () =>
        seen.push({ url: req.url ?? "", lastEventId: req.headers["last-event-id"] as string, status: res.statusCode }),
      );
    });
    browser = await sharedChromium();
    page = await browser.newPage();
    await page.goto(`${stack.baseUrl}/demo`); // any page of the API's origin
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  describe("issue 7 item 16: polling and Prefer: wait without readable redirects", () => {
    it("a polling-only watch ends with the result", async () => {
      const out = await page.evaluate(async () => {
        const { HeraldClient } = await import(`${location.origin}/client.js`);
        const client = new HeraldClient({ baseUrl: "", channels: ["polling"], pollWaitSeconds: 5 });
        const job = await client.submit("demo", { steps: 3, stepMs: 100 });
        const watch = client.watch(job);
        const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("no end within 20 s")), 20_000));
        try {
          const result = await Promise.race([watch.result(), timeout]);
          return { result, status: watch.latest?.status, channel: watch.channel, error: null };
        } catch (err) {
          return { error: String(err), status: watch.latest?.status };
        } finally {
          watch.close();
          client.close();
        }
      });
      expect(out).to.deep.equal({ result: { steps: 3 }, status: "succeeded", channel: "polling", error: null });
    });

    it("submit with wait returns the final state and keeps the token", async () => {
      const out = await page.evaluate(async () => {
        const { HeraldClient } = await import(`${location.origin}/client.js`);
        const client = new HeraldClient({ baseUrl: "" });
        try {
          const job = await client.submit("demo", { steps: 2, stepMs: 50 }, { wait: 20 });
          const res = await fetch(`/jobs/${job.id}/result`, { headers: { authorization: `Bearer ${job.token}` } });
          return { job, resultStatus: res.status, result: await res.json(), error: null };
        } catch (err) {
          return { error: String(err) };
        } finally {
          client.close();
        }
      });
      expect(out.error).to.equal(null);
      const job = out.job as AcceptedJob;
      expect(job.status).to.equal("succeeded");
      expect(job.token).to.be.a("string").with.length.above(20);
      expect(out.resultStatus).to.equal(200);
      expect(out.result).to.deep.equal({ steps: 2 });
    });

    it("a plain fetch that follows redirects gets the final status and its token from a POST that waits", async () => {
      const out = await page.evaluate(async () => {
        const res = await fetch("/jobs", {
          method: "POST",
          headers: { "content-type": "application/json", prefer: "wait=20" },
          body: JSON.stringify({ type: "demo", payload: { steps: 1, stepMs: 10 } }),
        });
        return {
          status: res.status,
          redirected: res.redirected,
          contentLocation: res.headers.get("content-location"),
          body: await res.json(),
        };
      });
      const body = out.body as AcceptedJob;
      expect(out).to.include({ status: 200, redirected: false, contentLocation: `/jobs/${body.id}` });
      expect(body.status).to.equal("succeeded");
      expect(body.token).to.be.a("string").with.length.above(20);
    });
  });

  describe("issue 7 item 17: an EventSource stops after the terminal event", () => {
    /** Opens an EventSource on the page; resolves with the events it got once it is CLOSED. */
    async function followInBrowser(job: { id: string; token: string }): Promise<{ events: JobView[]; state: number }> {
      return page.evaluate(
        ({ id, token }) =>
          new Promise<{ events: JobView[]; state: number }>((resolve) => {
            const events: JobView[] = [];
            const source = new EventSource(`/jobs/${id}/events?access_token=${token}`);
            source.addEventListener("job", (e) => events.push(JSON.parse((e as MessageEvent).data)));
            // CLOSED: the browser gave up for good. Still reconnecting long after the end (its retry is
            // 2 s): report that instead. (No named functions here: tsx would wrap them in __name.)
            const startedAt = Date.now();
            const timer = setInterval(() => {
              if (source.readyState !== EventSource.CLOSED && Date.now() - startedAt < 15_000) return;
              clearInterval(timer);
              const state = source.readyState;
              source.close();
              resolve({ events, state });
            }, 100);
          }),
        job,
      );
    }
    const requestsFor = (id: string) =>
      seen
        .filter((r) => r.url.startsWith(`/jobs/${id}/events`))
        .map(({ lastEventId, status }) => ({ lastEventId, status }));

    it("following a job to its end: one stream, then one reconnect answered 204, and the EventSource is CLOSED", async () => {
      const job = await submit(stack?.baseUrl ?? "", "demo", { steps: 3, stepMs: 150 });
      const got = await followInBrowser(job);
      expect(got.events.at(-1)?.status).to.equal("succeeded");
      expect(got.state).to.equal(2, "EventSource.CLOSED");
      const last = got.events.at(-1)?.version ?? 0;
      const expected = [
        { lastEventId: undefined, status: 200 },
        { lastEventId: String(last), status: 204 },
      ];
      expect(requestsFor(job.id)).to.deep.equal(expected);
      // Nothing to await for "no more requests": watch for longer than the 2 s retry interval.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      expect(requestsFor(job.id)).to.deep.equal(expected);
    });

    it("a fresh request for a finished job gets the one final event, then 204 on the reconnect", async () => {
      const job = await submit(stack?.baseUrl ?? "", "demo", { steps: 1, stepMs: 0 });
      const final = (await pollToEnd(stack?.baseUrl ?? "", job)).at(-1)?.body as JobView;
      const got = await followInBrowser(job);
      expect(got.events.map((v) => [v.version, v.status])).to.deep.equal([[final.version, "succeeded"]]);
      expect(got.state).to.equal(2, "EventSource.CLOSED");
      expect(requestsFor(job.id)).to.deep.equal([
        { lastEventId: undefined, status: 200 },
        { lastEventId: String(final.version), status: 204 },
      ]);
    });
  });
});
