// A tiny structured logger: one JSON line per event on stderr. No dependency, no magic.
import type { Config } from "./config.ts";

type Level = Exclude<Config["logLevel"], "silent">;
const rank: Record<Config["logLevel"], number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(level: Config["logLevel"], base: Record<string, unknown> = {}): Logger {
  const write = (lvl: Level, msg: string, fields: Record<string, unknown> = {}) => {
    if (rank[lvl] < rank[level]) return;
    const line = { time: new Date().toISOString(), level: lvl, msg, ...base, ...serialise(fields) };
    process.stderr.write(`${JSON.stringify(line)}\n`);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger(level, { ...base, ...fields }),
  };
}

function serialise(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v;
  }
  return out;
}
