// Issue 7 item 15: a job token sent as ?access_token= (clients that cannot set headers) must not
// land in any log: not in the access log of the shipped deploy/nginx.conf (run in a real nginx,
// with the image's own `main` access log around it), not in nginx's other files, not in the API's.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { type Cluster, pollUntil, startCluster } from "../helpers/cluster.ts";
import { request, submit } from "../helpers/http.ts";

describe("issue 7 item 15: ?access_token= is redacted in deploy/nginx.conf's logs and never logged by Herald", function () {
  this.timeout(60_000);
  let cluster: Cluster | undefined;

  before(async () => {
    // No workers: the job stays queued, which is all these reads need.
    cluster = await startCluster({ apis: 1, workers: 0, env: { LOG_LEVEL: "debug" }, nginx: { config: "shipped" } });
  });
  after(async () => {
    await cluster?.stop();
  });

  /** Every file nginx wrote under its prefix (logs, and anything else), as text. */
  const nginxFiles = (dir: string): string => {
    const texts: string[] = [];
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const path = join(d, name);
        if (statSync(path).isDirectory()) walk(path);
        else texts.push(readFileSync(path, "latin1"));
      }
    };
    walk(dir);
    return texts.join("\n");
  };

  it("logs each request with its path and the token masked, and no token anywhere", async () => {
    const c = cluster as Cluster;
    const job = await submit(c.baseUrl, "demo", { steps: 1 });
    const fake = (n: number) => `fake-secret-${n}-${job.id.slice(0, 8)}`;
    const secrets = [job.token, fake(1), fake(2), fake(3), fake(4), fake(5)];
    const base = `${c.baseUrl}/jobs/${job.id}`;
    const reads: [string, number][] = [
      [`${base}?access_token=${job.token}`, 200],
      [`${base}?lastEventId=0&access_token=${job.token}&x=1`, 200],
      [`${base}/result?access_token=${job.token}`, 409],
      [`${base}?access_token=${fake(1)}`, 404],
      // Repeated, and spelled with percent-escapes the API decodes: the whole query goes.
      [`${base}?access_token=${fake(2)}&access_token=${fake(3)}`, 401],
      [`${base}?access%5Ftoken=${job.token}`, 200],
      [`${base}?%61ccess_token=${fake(4)}`, 404],
      [`${c.baseUrl}/socket.io/?EIO=4&transport=polling&access_token=${fake(5)}`, 200],
    ];
    for (const [url, status] of reads) {
      const reply = await request(url);
      expect(reply.status, url).to.equal(status);
    }

    // nginx writes a line when a request is finalised, just after the answer: wait for all of them.
    const logged = await pollUntil(
      () => {
        const log = c.nginx.accessLog();
        return log.split("\n").filter((l) => l.includes(job.id) || l.includes("/socket.io/")).length >= reads.length
          ? log
          : undefined;
      },
      { timeoutMs: 10_000, what: "an access log line per request" },
    );
    expect(logged).to.include(`/jobs/${job.id}?access_token=[redacted] `);
    expect(logged).to.include(`/jobs/${job.id}?lastEventId=0&access_token=[redacted]&x=1 `);
    expect(logged).to.include(`/jobs/${job.id}/result?access_token=[redacted] `);
    expect(logged).to.include(`/jobs/${job.id}?[query redacted] `);
    expect(logged).to.include("/socket.io/?EIO=4&transport=polling&access_token=[redacted] ");

    const everywhere = [nginxFiles(c.nginx.dir), ...c.apis.map((a) => a.output())].join("\n");
    for (const secret of secrets) expect(everywhere, "a token in a log").to.not.include(secret);
  });
});
