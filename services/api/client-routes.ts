// Serves the client library as one browser ES module (/client.js, built from shared/client on
// first request). The demo page that uses it is demo-page.ts.
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
  return router;
}
