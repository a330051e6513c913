// Serves the client library as one browser ES module (/client.js, built from shared/client on
// first request) and a small demo page (/demo) that uses it.
import { fileURLToPath } from "node:url";
import Router from "@koa/router";
import { type BuildOptions, build } from "esbuild";

const entry = fileURLToPath(new URL("../../shared/client/index.ts", import.meta.url));

/** How /client.js is built (exported so that a test measures exactly what is served). */
export const clientBuildOptions = {
  entryPoints: [entry],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  write: false,
  logLevel: "silent",
} satisfies BuildOptions;

let bundle: Promise<string> | null = null;
function clientBundle(): Promise<string> {
  bundle ??= build(clientBuildOptions).then((r) => r.outputFiles[0]?.text ?? "");
  bundle.catch(() => {
    bundle = null;
  });
  return bundle;
}

export function clientRoutes(): Router {
  const router = new Router();
  router.get("/client.js", async (ctx) => {
    ctx.type = "text/javascript; charset=utf-8";
    ctx.set("Cache-Control", "public, max-age=300");
    ctx.body = await clientBundle();
  });
  router.get("/demo", (ctx) => {
    ctx.type = "text/html; charset=utf-8";
    ctx.body = demoPage;
  });
  return router;
}

const demoPage = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Herald demo</title>
<style>body{font:16px system-ui;margin:2rem;max-width:40rem}progress{width:100%}#log{font:13px monospace;white-space:pre-wrap}</style>
<h1>Herald demo</h1>
<p><label>Steps <input id="steps" type="number" value="5" min="1" max="1000"></label>
<label>ms per step <input id="stepMs" type="number" value="400" min="0" max="60000"></label>
<button id="run">Run a demo job</button></p>
<p>Status: <strong id="status">idle</strong> via <span id="channel">-</span></p>
<progress id="bar" max="100" value="0"></progress>
<p id="message"></p>
<p>Result: <code id="result"></code></p>
<div id="log"></div>
<script type="module">
import { HeraldClient } from "/client.js";
const client = new HeraldClient({ baseUrl: "" });
window.heraldClient = client;
const $ = (id) => document.getElementById(id);
$("run").addEventListener("click", async () => {
  $("result").textContent = "";
  const job = await client.submit("demo", { steps: Number($("steps").value), stepMs: Number($("stepMs").value) });
  $("log").textContent += "accepted " + job.id + "\\n";
  const watch = client.watch(job, {
    onUpdate: (v) => {
      $("status").textContent = v.status;
      $("channel").textContent = watch.channel;
      $("bar").value = v.progress.percent;
      $("message").textContent = v.progress.message ?? "";
      $("log").textContent += "v" + v.version + " " + v.status + " " + v.progress.percent + "%\\n";
    },
  });
  try {
    $("result").textContent = JSON.stringify(await watch.result());
  } catch (err) {
    $("result").textContent = "error: " + err.message;
  }
});
</script>
</html>
`;
