// Plain HTTP calls to the API for the commands that need no watching (status, cancel).
import { Problem } from "../../shared/jobs/schemas.ts";
import { apiProblem, isNetworkError, unreachable } from "./errors.ts";

export interface ApiTarget {
  url: string;
  /** Sent as X-API-Key on every request. */
  apiKey?: string;
}

/** `Authorization: Bearer <token>` when a token is given; the API key rides along in any case. */
export function authHeaders(target: ApiTarget, token?: string): Record<string, string> {
  return {
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...(target.apiKey ? { "x-api-key": target.apiKey } : {}),
  };
}

/** A fetch that adds the API key to every request (the client library's `fetch` option). */
export function fetchWithKey(apiKey: string | undefined): typeof fetch {
  if (!apiKey) return globalThis.fetch.bind(globalThis);
  return (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set("x-api-key", apiKey);
    return globalThis.fetch(input, { ...init, headers });
  };
}

/** One request; resolves with the JSON body of a 2xx/3xx answer, throws a CliError otherwise. */
export async function callApi(target: ApiTarget, path: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, { redirect: "manual", ...init });
  } catch (err) {
    if (isNetworkError(err)) throw unreachable(target.url, err);
    throw err;
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  if (res.status >= 400) {
    const problem = Problem.safeParse(body);
    throw apiProblem(res.status, problem.success ? problem.data : undefined, target.url);
  }
  return body;
}
