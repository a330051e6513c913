// Structured logs through pino: one JSON line per event on stderr, or pino-pretty's coloured lines
// when stderr is a terminal. Secrets are redacted (see redact.ts) before a line is written.
import pino, { type DestinationStream } from "pino";
import pretty from "pino-pretty";
import type { Config } from "../runtime/config.ts";
import { redactPaths, scrubUrls } from "./redact.ts";

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** Where lines go. Default: stderr (pretty when it is a terminal). */
  destination?: DestinationStream;
}

export function createLogger(
  level: Config["logLevel"],
  base: Record<string, unknown> = {},
  opts: LoggerOptions = {},
): Logger {
  const root = pino(
    {
      level,
      base: undefined, // no pid/hostname: the fields below are the line
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: redactPaths, censor: "[Redacted]" },
    },
    opts.destination ?? stderr(),
  );
  return wrap(root, base);
}

function stderr(): DestinationStream {
  // Synchronous, so the last lines before a process.exit are not lost.
  if (process.stderr.isTTY) return pretty({ destination: 2, sync: true, colorize: true });
  return pino.destination({ dest: 2, sync: true });
}

// Bindings are merged by hand rather than with pino's child(): pino writes its bindings before
// `msg`, and lines keep the order they have always had (`msg` first, then the process's fields,
// then the event's), which operators' greps and the tests' rely on.
function wrap(root: pino.Logger, base: Record<string, unknown>): Logger {
  const at =
    (lvl: "debug" | "info" | "warn" | "error") =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (!root.isLevelEnabled(lvl)) return;
      root[lvl]({ msg, ...base, ...serialise(fields) });
    };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (fields) => wrap(root, { ...base, ...fields }),
  };
}

function serialise(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] =
      v instanceof Error ? { name: v.name, message: scrubUrls(v.message), stack: scrubUrls(v.stack) } : scrubUrls(v);
  }
  return out;
}
