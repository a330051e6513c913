// `npm run screenshots`: retakes the README's pictures (docs/screenshots/*.png) of the demo page and
// of the status page. Runs Herald in-process on a fresh namespace of the local RabbitMQ and Redis
// (the test harness's stack, removed afterwards), drives Debian's Chromium through a few jobs, and
// takes each picture once the page shows what the README describes.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Locator, Page } from "playwright-core";
import { launchChromium } from "../test/helpers/browser.ts";
import { noLimits, startStack } from "../test/helpers/stack.ts";

const outDir = fileURLToPath(new URL("../docs/screenshots/", import.meta.url));
const timeout = 60_000;

const part = (card: Locator, name: string): Locator => card.locator(`[data-part=${name}]`);
const waitText = (l: Locator, text: string | RegExp) => l.filter({ hasText: text }).waitFor({ timeout });

async function submitDemo(page: Page, o: { steps: number; stepMs: number; fail?: boolean; copies?: number }) {
  await page.getByRole("radio", { name: /^demo/ }).check();
  await page.getByLabel("Steps", { exact: true }).fill(String(o.steps));
  await page.getByLabel("Step time (ms)").fill(String(o.stepMs));
  await page.getByLabel("Fail halfway through").setChecked(o.fail ?? false);
  await page.getByLabel("How many at once").fill(String(o.copies ?? 1));
  await page.getByRole("button", { name: "Submit" }).click();
}

/** The demo with one job in each state: succeeded (csv-summary), failed, canceled, two running. */
async function demoPicture(page: Page, baseUrl: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.getByRole("radio", { name: /^csv-summary/ }).check();
  await page.getByRole("button", { name: "Submit" }).click();
  await waitText(part(page.locator("#job-1"), "status"), "succeeded");

  await submitDemo(page, { steps: 6, stepMs: 150, fail: true });
  await waitText(part(page.locator("#job-2"), "status"), "failed");

  await submitDemo(page, { steps: 100, stepMs: 200 });
  await waitText(part(page.locator("#job-3"), "status"), "running");
  await page
    .locator("#job-3")
    .getByRole("button", { name: /^Cancel/ })
    .click();
  await waitText(part(page.locator("#job-3"), "status"), "canceled");

  await submitDemo(page, { steps: 20, stepMs: 700, copies: 2 });
  for (const n of [4, 5]) await waitText(part(page.locator(`#job-${n}`), "percent"), /^(2\d|3\d) %$/);
  await page.locator("input:focus, button:focus").evaluateAll((els) => {
    for (const el of els) (el as HTMLElement).blur();
  });
  await page.screenshot({ path: join(outDir, "demo.png"), fullPage: true });
}

/** The status page of a running job, as a person following the status link sees it. */
async function statusPicture(page: Page, baseUrl: string): Promise<void> {
  const res = await fetch(`${baseUrl}/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type: "demo", payload: { steps: 20, stepMs: 600 } }),
  });
  if (res.status !== 202) throw new Error(`POST /jobs answered ${res.status}`);
  const job = (await res.json()) as { id: string; token: string };
  await page.goto(`${baseUrl}/jobs/${job.id}?access_token=${encodeURIComponent(job.token)}`);
  await page
    .locator("#percent")
    .filter({ hasText: /^(4\d|5\d) %$/ })
    .waitFor({ timeout });
  await page.screenshot({ path: join(outDir, "status-page.png"), fullPage: true });
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const stack = await startStack({ env: noLimits });
  const browser = await launchChromium().catch(async (err: unknown) => {
    await stack.close();
    throw err;
  });
  try {
    const demo = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    await demoPicture(demo, stack.baseUrl);
    const status = await browser.newPage({ viewport: { width: 800, height: 600 } });
    await statusPicture(status, stack.baseUrl);
    for (const name of ["demo.png", "status-page.png"]) console.log(join(outDir, name));
  } finally {
    await browser.close();
    await stack.close();
  }
}

await main();
