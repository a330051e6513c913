// Issue 11 (client): useHeraldJob in a real React app in Chromium. The test bundles
// test/e2e/fixtures/react-app.ts (React, react-dom and the hook from shared/client/react.ts) with
// esbuild, serves it from a small static server whose origin is in CORS_ORIGINS, and watches the
// DOM follow demo jobs run by a real worker against the real brokers: running to the result, a
// failing job to its error, and the hook closing its watch when the job changes and on unmount.
import { createServer, type Server } from "node:http";
import { expect } from "chai";
import { build } from "esbuild";
import type { Page } from "playwright-core";
import { type BrowserLease, sharedChromium } from "../helpers/browser.ts";
import { freePort } from "../helpers/net.ts";
import { noLimits, type Stack, startStack } from "../helpers/stack.ts";

const appEntry = new URL("./fixtures/react-app.ts", import.meta.url).pathname;

describe("issue 11 client: the useHeraldJob React hook in Chromium", function () {
  this.timeout(60_000);
  let stack: Stack | undefined;
  let site: Server | undefined;
  let siteOrigin = "";
  let browser: BrowserLease | undefined;
  let tab: Page | undefined;
  const pageErrors: string[] = [];

  before(async () => {
    const built = await build({
      entryPoints: [appEntry],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      write: false,
      logLevel: "silent",
      define: { "process.env.NODE_ENV": '"development"' }, // StrictMode mounts effects twice
    });
    const appJs = built.outputFiles[0]?.text ?? "";
    const port = await freePort();
    siteOrigin = `http://127.0.0.1:${port}`;
    site = createServer((req, res) => {
      if (req.url === "/app.js") {
        res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(appJs);
      } else {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(
          '<!doctype html><html lang="en"><title>React app</title><div id="root"></div>'.concat(
            '<script type="module" src="/app.js"></script></html>',
          ),
        );
      }
    });
    await new Promise<void>((resolve) => site?.listen(port, "127.0.0.1", resolve));
    stack = await startStack({ workers: 1, corsOrigins: [siteOrigin], env: { ...noLimits } });
    browser = await sharedChromium();
    tab = await browser.newPage();
    tab.on("pageerror", (e) => pageErrors.push(e.message));
    await tab.goto(`${siteOrigin}/?api=${encodeURIComponent(stack.baseUrl)}`);
    await tab.waitForSelector("#run");
  });

  after(async () => {
    // Cancel what may still run, so the worker stops at once.
    for (const job of ((await tab?.evaluate("window.submitted").catch(() => [])) ?? []) as {
      id: string;
      token: string;
    }[]) {
      await fetch(`${stack?.baseUrl}/jobs/${job.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${job.token}` },
      }).catch(() => {});
    }
    await browser?.close();
    await stack?.close();
    await new Promise((resolve) => (site ? site.close(resolve) : resolve(undefined)));
  });

  const page = () => tab as Page;
  const text = async (selector: string) => (await page().textContent(selector)) ?? "";
  async function run(steps: number, stepMs: number, fail = ""): Promise<string> {
    const before = await page().evaluate(() => document.getElementById("job-id")?.textContent ?? "");
    await page().fill("#steps", String(steps));
    await page().fill("#stepMs", String(stepMs));
    await page().fill("#fail", fail);
    await page().click("#run");
    await page().waitForFunction((old) => {
      const id = document.getElementById("job-id")?.textContent;
      return id && id !== old;
    }, before);
    return text("#job-id");
  }

  it("renders the job running with its progress, then its result", async () => {
    await run(5, 400);
    await page().waitForFunction(() => document.getElementById("status")?.textContent === "running", null, {
      timeout: 20_000,
    });
    const running = { bar: await page().getAttribute("#bar", "value"), result: await page().$("#result") };
    expect(running.result, "no result while running").to.equal(null);
    expect(Number(running.bar)).to.be.lessThan(100);
    await page().waitForSelector("#result", { timeout: 30_000 });
    expect(await text("#result")).to.equal('{"steps":5}');
    expect(await text("#status")).to.equal("succeeded");
    expect(await page().getAttribute("#bar", "value")).to.equal("100");
    expect(await text("#message")).to.equal("step 5 of 5");
    expect(await text("#channel")).to.equal("socket");
    expect(await page().$("#error")).to.equal(null);
    expect(pageErrors).to.deep.equal([]);
  });

  it("renders a failing job's error (JobFailedError with the job's problem) and no result", async () => {
    await run(2, 100, "boom on purpose");
    await page().waitForSelector("#error", { timeout: 30_000 });
    expect(await text("#error")).to.equal("JobFailedError: boom on purpose");
    expect(await text("#status")).to.equal("failed");
    expect(await page().$("#result")).to.equal(null);
    expect(pageErrors).to.deep.equal([]);
  });

  it("closes its watch when the job changes and when the component unmounts", async () => {
    const first = await run(40, 250);
    await page().waitForFunction(() => document.getElementById("status")?.textContent === "running", null, {
      timeout: 20_000,
    });
    expect(await page().evaluate("window.openWatches")).to.deep.equal([first]);
    const second = await run(40, 250);
    expect(second).to.not.equal(first);
    await page().waitForFunction(() => document.getElementById("status")?.textContent === "running", null, {
      timeout: 20_000,
    });
    expect(await page().evaluate("window.openWatches"), "the first job's watch closed").to.deep.equal([second]);
    await page().click("#hide");
    await page().waitForFunction(() => !document.getElementById("status"));
    expect(await page().evaluate("window.openWatches"), "closed on unmount").to.deep.equal([]);
    expect(pageErrors).to.deep.equal([]);
  });
});
