// docker-compose.yml and deploy/nginx.conf are for users (no Docker engine runs here), so check
// what can be checked: nginx accepts the config (as the e2e tests run it), and the compose file
// is parsed and held to what the README promises (item 20 of issue 7).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { load } from "js-yaml";
import { loadConfig } from "../../shared/runtime/config.ts";
import { nginxBinary } from "../helpers/nginx.ts";
import { renderShippedNginxConfig } from "../helpers/shipped-nginx.ts";

const root = new URL("../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

interface Service {
  image?: string;
  ports?: (string | number | { host_ip?: string; published?: string | number })[];
  expose?: unknown[];
  environment?: Record<string, string | number | boolean | null>;
  stop_grace_period?: string;
  volumes?: string[];
  command?: string[];
}
interface Compose {
  services: Record<string, Service & { hostname?: string; depends_on?: Record<string, unknown> }>;
}
const composeFiles = ["docker-compose.yml", "docker-compose.cluster.yml"] as const;
type ComposeFile = (typeof composeFiles)[number];
const composed: Record<ComposeFile, Compose> = {
  "docker-compose.yml": load(read("docker-compose.yml")) as Compose,
  "docker-compose.cluster.yml": load(read("docker-compose.cluster.yml")) as Compose,
};
const serviceOf = (file: ComposeFile, name: string) => {
  const s = composed[file].services[name];
  if (!s) throw new Error(`${file} has no service "${name}"`);
  return s;
};
const service = (name: string): Service => serviceOf("docker-compose.yml", name);
const envOf = (file: ComposeFile, name: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(serviceOf(file, name).environment ?? {}).map(([k, v]) => [k, v === null ? "" : String(v)]),
  );

/** A compose duration ("1m30s", "45s", "500ms") in ms. */
function durationMs(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new Error(`not a duration: ${text}`);
  const unit = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001 } as const;
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2] as keyof typeof unit], 0);
}

/** The host address a compose port entry binds ("" for every interface). */
function hostIp(port: NonNullable<Service["ports"]>[number]): string {
  if (typeof port === "object") return port.host_ip ?? "";
  const parts = String(port).split(":");
  return parts.length === 3 ? (parts[0] ?? "") : "";
}

/** `nginx -t` on a config; nginx reports on stderr, and says "[warn]" for what it accepts grudgingly. */
function nginxTest(configText: string, dir: string): { status: number | null; stderr: string } {
  const path = join(dir, "nginx.conf");
  writeFileSync(path, configText);
  const r = spawnSync(nginxBinary(), ["-t", "-p", `${dir}/`, "-c", path, "-e", join(dir, "error.log")], {
    encoding: "utf8",
  });
  return { status: r.status, stderr: `${r.stderr}${r.stdout}` };
}

describe("deploy files", () => {
  describe("deploy/nginx.conf", () => {
    const site = read("deploy/nginx.conf");

    it("passes `nginx -t` as the e2e tests run it (upstreams, listen address and log paths swapped)", () => {
      const dir = mkdtempSync(join(tmpdir(), "herald-nginx-t-"));
      try {
        const config = renderShippedNginxConfig({ dir, port: 18080, upstreams: [3000, 3001] });
        const ok = nginxTest(`pid ${dir}/nginx.pid;\n${config}`, dir);
        expect(ok.status, ok.stderr).to.equal(0);
        expect(ok.stderr).to.match(/syntax is ok/);
        expect(ok.stderr, "no warnings").to.not.include("[warn]");
        // The check can fail: a broken directive is reported.
        const broken = nginxTest(
          `pid ${dir}/nginx.pid;\n${config.replace("proxy_buffering off;", "proxy_buffering of;")}`,
          dir,
        );
        expect(broken.status).to.not.equal(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("issue 7 item 20: re-resolves the API's name, so recreated API containers are found", () => {
      // Docker's embedded DNS, answers cached briefly.
      expect(site).to.match(/^resolver 127\.0\.0\.11 valid=\d+s/m);
      const upstreams = [...site.matchAll(/^upstream\s+(\S+)\s*\{([^}]*)\}/gm)];
      expect(upstreams.length).to.be.at.least(2);
      for (const [, name, body] of upstreams) {
        // `resolve` needs the upstream's peers in shared memory.
        expect(body, name).to.match(/^\s*zone\s+\S+\s+\d+k;/m);
        const servers = [...(body ?? "").matchAll(/^\s*server\s+([^;]+);/gm)].map((m) => m[1] ?? "");
        expect(servers, name).to.not.deep.equal([]);
        for (const s of servers) expect(s.split(/\s+/), `${name}: server ${s}`).to.include("resolve");
      }
      // `server … resolve` is in open-source nginx since 1.27.3: the image must be at least that.
      const tag = /^nginx:(\d+)\.(\d+)(?:\.(\d+))?/.exec(service("nginx").image ?? "");
      expect(tag, `nginx image ${service("nginx").image}`).to.not.equal(null);
      const [major, minor, patch] = [1, 2, 3].map((i) => Number(tag?.[i] ?? 0));
      const version = (major ?? 0) * 1e6 + (minor ?? 0) * 1e3 + (patch ?? 0);
      expect(version, `nginx ${tag?.[0]} has no upstream "resolve"`).to.be.at.least(1_027_003);
      // The shipped file is mounted where the image's http block includes it (the harness assumes so).
      expect(service("nginx").volumes).to.include("./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro");
    });
  });

  for (const file of composeFiles) {
    const env = (name: string) => envOf(file, name);
    describe(file, () => {
      it("sets only environment variables that the config knows, with valid values", () => {
        const vars = env("api");
        expect(Object.keys(vars)).to.include.members(["AMQP_URL", "REDIS_URL", "HOST", "PORT"]);
        const known = new Set(
          read("shared/runtime/config.ts")
            .match(/^\s{2}([A-Z_]+):/gm)
            ?.map((l) => l.trim().slice(0, -1)),
        );
        for (const name of ["api", "worker"]) {
          for (const v of Object.keys(env(name)))
            expect(known.has(v), `${name}: ${v} is a Herald setting`).to.equal(true);
          expect(() => loadConfig(env(name))).to.not.throw();
        }
      });

      it("issue 7 item 20: publishes only the nginx port, and only on loopback", () => {
        for (const [name, s] of Object.entries(composed[file].services)) {
          if (name !== "nginx") expect(s.ports ?? [], `${name} publishes ports`).to.deep.equal([]);
        }
        const ports = serviceOf(file, "nginx").ports ?? [];
        expect(ports).to.have.length(1);
        for (const p of ports) {
          expect(hostIp(p), `nginx port ${JSON.stringify(p)}`).to.equal("127.0.0.1");
        }
      });

      it("issue 7 item 20: gives the API and the workers longer to stop than SHUTDOWN_GRACE_MS", () => {
        for (const name of ["api", "worker"]) {
          const grace = loadConfig(env(name)).shutdownGraceMs;
          const stop = serviceOf(file, name).stop_grace_period;
          expect(stop, `${name} stop_grace_period`).to.be.a("string");
          // Docker's default is 10 s, the same as the default grace: SIGKILL would cut the shutdown short.
          expect(durationMs(stop as string), `${name}: ${stop} vs SHUTDOWN_GRACE_MS ${grace}`).to.be.at.least(
            grace + 5_000,
          );
        }
      });
    });
  }

  describe("docker-compose.cluster.yml: the RabbitMQ cluster (issue 8)", () => {
    const file = "docker-compose.cluster.yml";
    const nodes = Object.keys(composed[file].services).filter((name) => name.startsWith("rabbitmq-"));
    const clusterConf = read("deploy/rabbitmq-cluster.conf");

    it("runs 3 RabbitMQ nodes, each with its own data volume, one Erlang cookie and the cluster config", () => {
      expect(nodes).to.deep.equal(["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"]);
      const cookies = new Set(nodes.map((n) => envOf(file, n).RABBITMQ_ERLANG_COOKIE));
      expect(cookies.size, "one cookie").to.equal(1);
      expect([...cookies][0])
        .to.be.a("string")
        .and.not.equal("");
      const dataVolumes = nodes.map((n) =>
        (serviceOf(file, n).volumes ?? []).find((v) => v.endsWith(":/var/lib/rabbitmq")),
      );
      expect(new Set(dataVolumes).size, `data volumes ${dataVolumes}`).to.equal(3);
      for (const n of nodes) {
        expect(serviceOf(file, n).hostname).to.equal(n);
        expect(serviceOf(file, n).volumes).to.include(
          "./deploy/rabbitmq-cluster.conf:/etc/rabbitmq/conf.d/20-cluster.conf:ro",
        );
        // A dead letter unconfirmed during a leader election is resent after seconds, not 3 min.
        expect(serviceOf(file, n).volumes).to.include(
          "./deploy/rabbitmq-advanced.config:/etc/rabbitmq/advanced.config:ro",
        );
        // classic_config peer discovery names every node as rabbit@<hostname>.
        expect(clusterConf).to.match(
          new RegExp(`^cluster_formation\\.classic_config\\.nodes\\.\\d+ = rabbit@${n}$`, "m"),
        );
      }
      expect(clusterConf).to.match(/^cluster_formation\.peer_discovery_backend = classic_config$/m);
      expect(read("deploy/rabbitmq-advanced.config")).to.match(
        /\{dead_letter_worker_publisher_confirm_timeout, \d{4}\}/,
      );
    });

    it("points API and workers at every node, with quorum queues, and starts them after all nodes", () => {
      for (const name of ["api", "worker"]) {
        const config = loadConfig(envOf(file, name));
        expect(config.amqpUrls.map((u) => new URL(u).hostname)).to.deep.equal(nodes);
        // Later entries inherit the first's credentials.
        for (const u of config.amqpUrls) expect(new URL(u).username).to.equal("guest");
        expect(config.queueType).to.equal("quorum");
        expect(Object.keys(serviceOf(file, name).depends_on ?? {})).to.include.members(nodes);
      }
    });

    it("marks the place of the Redis Cluster half", () => {
      expect(read(file)).to.match(/Redis Cluster half of issue 8/);
    });

    it("issue 9: runs the compiled services with plain node (what npm run build makes of services/*/main.ts)", () => {
      for (const name of ["api", "worker"]) {
        const command = service(name).command ?? [];
        expect(command, name).to.deep.equal(["node", `dist/services/${name}/main.js`]);
        expect(() => read(`services/${name}/main.ts`), `the source of ${name}'s entry`).to.not.throw();
      }
      const dockerfile = read("Dockerfile");
      expect(dockerfile).to.match(/^RUN npm run build$/m);
      expect(dockerfile).to.match(/^RUN npm ci --omit=dev/m);
      expect(dockerfile).to.match(/^COPY --from=build \/app\/dist \.\/dist$/m);
      expect(dockerfile, "no TypeScript loader at run time").to.not.include("tsx");
    });
  });
});
