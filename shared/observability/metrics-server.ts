// The worker's /metrics endpoint. Written by hand on node:http: prom-client renders the text but
// serves nothing, and one read-only route needs no framework.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { metricsAccess } from "./metrics-access.ts";

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `registry` at GET /metrics on host:port; with a `token` (METRICS_TOKEN), only to requests
 * that send it as a Bearer credential. */
export async function serveMetrics(
  registry: Registry,
  port: number,
  host: string,
  token: string | null = null,
): Promise<MetricsServer> {
  const refusal = metricsAccess(token);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method !== "GET" || path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    const refused = refusal(req.headers.authorization);
    if (refused) {
      const headers = { "content-type": "application/problem+json", ...refused.headers };
      res.writeHead(refused.status, headers).end(JSON.stringify(refused.problem));
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
