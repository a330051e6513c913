// What never reaches a log line. pino's `redact` censors fields by path (at the top of a line and
// one or two levels down, e.g. `headers.authorization`); `scrubUrls` censors `access_token` inside
// any string (a URL logged whole), which paths cannot reach. Request lines never log a query string.
const secretKeys = [
  "authorization",
  "proxy-authorization",
  "x-api-key",
  "apiKey",
  "cookie",
  "set-cookie",
  "token",
  "accessToken",
  "access_token",
  "password",
];

const key = (k: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `["${k}"]`);
const joined = (prefix: string, k: string) => (key(k).startsWith("[") ? `${prefix}${key(k)}` : `${prefix}.${k}`);

export const redactPaths: string[] = secretKeys.flatMap((k) => [key(k), joined("*", k), joined("*.*", k)]);

const tokenInUrl = /([?&#;]access_token=)[^&#\s"']*/gi;

/** `value` with every `access_token=…` in its strings censored (objects and arrays walked a few
 * levels deep; other values unchanged). */
export function scrubUrls(value: unknown, depth = 0): unknown {
  if (typeof value === "string")
    return value.includes("access_token") ? value.replace(tokenInUrl, "$1[Redacted]") : value;
  if (depth > 3 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => scrubUrls(v, depth + 1));
  if (value.constructor !== Object) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubUrls(v, depth + 1);
  return out;
}
