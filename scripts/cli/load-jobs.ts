// `herald worker --jobs <module>`: the user's jobs module, resolved from the current directory
// (a path such as ./jobs.mjs, or a package name), imported, and checked (jobsOf).
import { createRequire } from "node:module";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { jobsOf } from "../../shared/worker/define-job.ts";
import type { HandlerRegistry } from "../../shared/worker/handlers.ts";
import { UsageError } from "./errors.ts";

export async function loadJobs(specifier: string, cwd: string): Promise<HandlerRegistry> {
  const file = resolveModule(specifier, cwd);
  let module: unknown;
  try {
    module = await import(pathToFileURL(file).href);
  } catch (err) {
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    throw new UsageError(`--jobs ${specifier}: cannot load ${file}:\n${detail}`);
  }
  try {
    return jobsOf(module, `--jobs ${specifier}`);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function resolveModule(specifier: string, cwd: string): string {
  const isPath = specifier.startsWith(".") || isAbsolute(specifier);
  try {
    // A path is relative to cwd; a package is looked up in cwd's node_modules, as cwd's code would
    // (with the "require" or "default" condition of its exports).
    return createRequire(resolve(cwd, "noop.js")).resolve(isPath ? resolve(cwd, specifier) : specifier);
  } catch (err) {
    throw new UsageError(`--jobs ${specifier}: not found from ${cwd} (${(err as Error).message.split("\n")[0]})`);
  }
}
