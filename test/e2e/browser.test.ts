// A real browser (Debian's Chromium) loads the demo page through nginx in front of two API
// processes; the page imports the client library the API serves at /client.js, runs a job on a
// separate worker process, and shows its progress and result as they arrive over the socket.
import { expect } from "chai";
import { type BrowserLease, sharedChromium } from "../helpers/browser.ts";
import { type Cluster, startCluster } from "../helpers/cluster.ts";

describe("e2e: browser client", function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let browser: BrowserLease;
  before(async () => {
    cluster = await startCluster({ apis: 2, workers: 1 });
    browser = await sharedChromium();
  });
  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it("the demo page runs a job over the socket and shows every step and the result", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${cluster.baseUrl}/demo`);
    await page.fill("#steps", "4");
    await page.fill("#stepMs", "500");
    await page.click("#run");
    const job = page.locator("#job-1"); // the demo page's card for its first job
    const part = (name: string) => job.locator(`[data-part=${name}]`);
    await part("outcome").waitFor({ timeout: 20_000 });
    expect(JSON.parse((await part("result").textContent()) ?? "null")).to.deep.equal({ steps: 4 });
    expect(await part("status").textContent()).to.equal("succeeded");
    expect(await part("channel").textContent()).to.equal("socket");
    expect(await part("bar").getAttribute("value")).to.equal("100");
    const log = (await part("history").textContent()) ?? "";
    // A page that subscribes after the first steps starts from the job's state then (a late client
    // gets the current state, not the past): from there on, every step, and more than the last.
    const seen = [...log.matchAll(/ running (\d+)%/g)].map((m) => Number(m[1]));
    const steps = [0, 25, 50, 75, 100];
    expect(seen, log).to.deep.equal(steps.slice(steps.length - seen.length));
    expect(seen.length, log).to.be.at.least(2);
    expect(errors).to.deep.equal([]);
  });
});
