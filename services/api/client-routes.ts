// Serves the client library as one browser ES module (/client.js). `npm run build` bundles it
// next to this file (client.bundle.js in dist/, so an installed Herald needs no bundler); run from
// source, it is built from shared/client on first request. The demo page that uses it is demo-page.ts.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import Router from "@koa/router";
import type { BuildOptions } from "esbuild";

const entry = fileURLToPath(new URL("../../shared/client/index.ts", import.meta.url));
/** Where the build puts the bundle: beside the compiled client-routes.js. */
export const prebuiltClientName = "client.bundle.js";
const prebuilt = new URL(`./${prebuiltClientName}`, import.meta.url);

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

/** Bundles shared/client with esbuild (a development dependency: source checkouts and the build). */
export async function buildClientBundle(): Promise<string> {
  const { build } = await import("esbuild");
  return (await build(clientBuildOptions)).outputFiles[0]?.text ?? "";
}

let bundle: Promise<string> | null = null;
function clientBundle(): Promise<string> {
  bundle ??= readFile(prebuilt, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return buildClientBundle();
    throw err;
  });
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
