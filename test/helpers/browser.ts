// Debian's Chromium driven by playwright-core (no browser download: see TRAPS.md). Playwright
// gives each launch a fresh temporary profile.
//
// One Chromium serves the whole test run: launching it costs seconds on a busy machine, and every
// test already works in browser contexts of its own (cookies, storage and cache are per context).
// A file takes a lease (`sharedChromium()`), opens contexts and pages through it, and closes the
// lease in its `after`: that closes what it opened and leaves the browser to the next file.
// Playwright kills the browser when the test process exits.
import { type Browser, type BrowserContext, chromium } from "playwright-core";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

/** A file's share of the run's Chromium: what it opened through it is closed by `close()`. */
export interface BrowserLease extends Pick<Browser, "newContext" | "newPage"> {
  close(): Promise<void>;
}

let shared: Promise<Browser> | null = null;

async function runBrowser(): Promise<Browser> {
  const current = shared && (await shared.catch(() => null));
  if (current?.isConnected()) return current;
  // Not launched yet, failed to launch, or crashed: (re)launch.
  const launching = launchChromium();
  shared = launching;
  return launching;
}

export async function sharedChromium(): Promise<BrowserLease> {
  const browser = await runBrowser();
  const opened = new Set<BrowserContext>();
  const track = (context: BrowserContext): BrowserContext => {
    opened.add(context);
    context.once("close", () => opened.delete(context));
    return context;
  };
  return {
    newContext: async (options) => track(await browser.newContext(options)),
    newPage: async (options) => {
      const page = await browser.newPage(options); // in a context of its own
      track(page.context());
      return page;
    },
    close: async () => {
      await Promise.all([...opened].map((c) => c.close().catch(() => undefined)));
    },
  };
}
