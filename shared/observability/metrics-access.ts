// Who may read /metrics (the API's and the worker's): anyone, unless METRICS_TOKEN is set; then only a
// request with `Authorization: Bearer <METRICS_TOKEN>` (Prometheus: `authorization: {credentials}`).
import { HttpProblem } from "../jobs/problems.ts";
import { bearerChecker } from "../runtime/bearer.ts";

export const metricsRealm = 'Bearer realm="herald-metrics"';

/** For a configured token (or null: open), the problem to answer a request's Authorization header
 * with, or null when it may read the metrics. */
export function metricsAccess(token: string | null): (authorization: string | undefined) => HttpProblem | null {
  if (token === null) return () => null;
  const check = bearerChecker(token);
  return (authorization) => {
    switch (check(authorization)) {
      case "ok":
        return null;
      case "missing":
        return new HttpProblem("unauthorized", "send the METRICS_TOKEN as Authorization: Bearer", {
          headers: { "WWW-Authenticate": metricsRealm },
        });
      case "wrong":
        return new HttpProblem("forbidden", "wrong metrics token");
    }
  };
}
