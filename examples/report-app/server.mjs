// The application's web server: the page (public/), its script (public/app.js, `npm run build`),
// POST /reports (submits a sales-report job to Herald with herald/client, from Node) and the
// finished PDFs (reports/). The browser follows the job straight from Herald, so Herald's
// CORS_ORIGINS must list this server's origin.
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { createServer } from "node:http";
import { join, resolve } from "node:path";
import { HeraldClient, HeraldRequestError } from "herald/client";

const port = Number(process.env.WEB_PORT ?? 4000);
const heraldUrl = (process.env.HERALD_URL ?? "http://127.0.0.1:3000").replace(/\/+$/, "");
const reportsDir = resolve(process.env.REPORTS_DIR ?? "reports");
const publicDir = new URL("./public/", import.meta.url);
const herald = new HeraldClient({ baseUrl: heraldUrl, channels: ["polling"] }); // submits only

const send = (res, status, type, body) => res.writeHead(status, { "content-type": type }).end(body);
const json = (res, status, value) => send(res, status, "application/json", JSON.stringify(value));

async function readJson(req) {
  let text = "";
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 10_000) throw new Error("body too large");
  }
  return JSON.parse(text);
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  try {
    if (req.method === "GET" && (url.pathname === "/" || url.pathname === "/app.js")) {
      const file = url.pathname === "/" ? "index.html" : "app.js";
      const type = file.endsWith(".html") ? "text/html; charset=utf-8" : "text/javascript; charset=utf-8";
      return send(res, 200, type, await readFile(new URL(file, publicDir)));
    }
    if (req.method === "GET" && url.pathname === "/config.json") return json(res, 200, { heraldUrl });
    if (req.method === "POST" && url.pathname === "/reports") {
      const { title, region, months } = await readJson(req);
      // The job's token goes back to this user only: it is what lets the page follow the job.
      const job = await herald.submit("sales-report", { title, region, months: Number(months) });
      return json(res, 202, { id: job.id, token: job.token });
    }
    const pdf = /^\/reports\/([0-9a-f-]{36})\.pdf$/.exec(url.pathname);
    if (req.method === "GET" && pdf) {
      const file = join(reportsDir, `${pdf[1]}.pdf`);
      const { size } = await stat(file);
      res.writeHead(200, { "content-type": "application/pdf", "content-length": size });
      return createReadStream(file).pipe(res);
    }
    send(res, 404, "text/plain", "not found");
  } catch (err) {
    if (err instanceof HeraldRequestError) return json(res, err.status, err.problem); // e.g. 422 with the schema's errors
    if (err.code === "ENOENT") return send(res, 404, "text/plain", "not found");
    if (err instanceof SyntaxError) return send(res, 400, "text/plain", "the body is not JSON");
    console.error(err);
    send(res, 500, "text/plain", "internal error");
  }
});
server.listen(port, "127.0.0.1", () => console.log(`report app on http://127.0.0.1:${port} (Herald at ${heraldUrl})`));
