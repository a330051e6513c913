// docker-compose.yml and deploy/nginx.conf are for users (no Docker engine runs here), so check
// what can be checked: nginx accepts the config, and compose sets only variables Herald knows.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { loadConfig } from "../../shared/config.ts";

const root = new URL("../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

describe("deploy files", () => {
  it("deploy/nginx.conf passes `nginx -t` (with the compose host name swapped for loopback)", () => {
    const dir = mkdtempSync(join(tmpdir(), "herald-nginx-"));
    const site = read("deploy/nginx.conf")
      .replaceAll("api:3000", "127.0.0.1:3000")
      .replace("listen 80;", "listen 127.0.0.1:18080;");
    writeFileSync(join(dir, "site.conf"), site);
    writeFileSync(
      join(dir, "nginx.conf"),
      `pid ${dir}/nginx.pid; error_log ${dir}/error.log; events {} http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir}; include ${dir}/site.conf; }`,
    );
    const nginx = process.env.NGINX_PATH ?? "/usr/sbin/nginx";
    const out = execFileSync(nginx, ["-t", "-p", dir, "-c", join(dir, "nginx.conf")], {
      encoding: "utf8",
      stdio: "pipe",
    });
    expect(out).to.equal("");
  });

  it("docker-compose.yml sets only environment variables that the config knows, with valid values", () => {
    const compose = read("docker-compose.yml");
    const block = compose.slice(compose.indexOf("environment: &env"), compose.indexOf("deploy:"));
    const vars = Object.fromEntries(
      [...block.matchAll(/^\s{6}([A-Z_]+): (.*)$/gm)].map((m) => [
        m[1] as string,
        (m[2] as string).replace(/^"|"$/g, ""),
      ]),
    );
    expect(Object.keys(vars)).to.include.members(["AMQP_URL", "REDIS_URL", "HOST", "PORT"]);
    const known = new Set(
      read("shared/config.ts")
        .match(/^\s{2}([A-Z_]+):/gm)
        ?.map((l) => l.trim().slice(0, -1)),
    );
    for (const name of Object.keys(vars)) expect(known.has(name), `${name} is a Herald setting`).to.equal(true);
    expect(() => loadConfig(vars)).to.not.throw();
  });
});
