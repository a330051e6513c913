// Argument parsing (node:util parseArgs: strict, so an unknown option is a usage error) and the
// API target: `--url`, else HERALD_URL, else http://127.0.0.1:3000 (shared/runtime/config.ts).
import { type ParseArgsConfig, parseArgs } from "node:util";
import { type Config, ConfigError, loadConfig } from "../../shared/runtime/config.ts";
import type { ApiTarget } from "./api.ts";
import { UsageError } from "./errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

export const targetOptions = {
  url: { type: "string" },
  "api-key": { type: "string" },
} as const satisfies Options;

/** parseArgs that throws UsageError (exit 2) instead of its own TypeError. */
type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

export function parse<O extends Options>(args: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args: joinValues(args, options), options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** `--token X` → `--token=X` for string options: parseArgs refuses a separate value that starts
 * with "-", and job tokens (base64url) can. */
function joinValues(args: string[], options: Options): string[] {
  const takesValue = new Set<string>();
  for (const [name, o] of Object.entries(options)) {
    if (o.type !== "string") continue;
    takesValue.add(`--${name}`);
    if (o.short) takesValue.add(`-${o.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    const value = args[i + 1];
    if (takesValue.has(arg) && value !== undefined) {
      out.push(arg.startsWith("--") ? `${arg}=${value}` : `${arg}${value}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

export function config(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

export function target(values: { url?: string | undefined; "api-key"?: string | undefined }): ApiTarget {
  const cfg = config();
  const raw = values.url ?? cfg.heraldUrl;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url: not a URL: ${raw}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`--url: not http(s): ${raw}`);
  const apiKey = values["api-key"] ?? cfg.heraldApiKey;
  return { url: url.href.replace(/\/+$/, ""), ...(apiKey ? { apiKey } : {}) };
}

/** Exactly `n` positionals, named in the message when some are missing or extra. */
export function positionals(found: string[], names: string[]): string[] {
  if (found.length !== names.length) {
    throw new UsageError(`expected ${names.map((n) => `<${n}>`).join(" ") || "no arguments"}, got ${found.length}`);
  }
  return found;
}
