// GET /openapi.json (the document, with the job types the registry holds when it is asked for) and
// GET /docs (Swagger UI).
// The renderer's files come from the swagger-ui-dist package through this API, never from a CDN,
// so the reference works with no Internet access and under a same-origin script policy.
import { createReadStream } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import Router from "@koa/router";
import type { JobTypeRegistry } from "../../shared/registry/job-type-registry.ts";
import { openApiDocument } from "./openapi.ts";
import type { PayloadValidator } from "./payload-validator.ts";

const swaggerUiDir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

/** What /docs/ serves from swagger-ui-dist, by name and type: nothing else of the package. */
const assets: Record<string, string> = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
};

export function docsRoutes(jobTypes: JobTypeRegistry, payloads: PayloadValidator): Router {
  const router = new Router();
  // Built again only when the announced types differ from those of the last one built.
  let built = { of: "", document: "" };

  router.get("/openapi.json", async (ctx) => {
    const types = (await jobTypes.list()).map((t) => t.definition);
    const of = JSON.stringify(types.map((t) => [t.name, t.version, t.description, t.payload]));
    if (of !== built.of) {
      const documented = await Promise.all(
        types.map(async (t) => ({
          name: t.name,
          description: t.description,
          payload: t.payload,
          acceptsEmpty: (await payloads.check(t, {})).ok,
        })),
      );
      built = { of, document: JSON.stringify(openApiDocument(documented)) };
    }
    ctx.type = "application/json";
    ctx.set("Cache-Control", "no-cache");
    ctx.body = built.document;
  });
  router.get("/docs", (ctx) => {
    ctx.type = "text/html; charset=utf-8";
    ctx.set("Cache-Control", "no-cache");
    ctx.body = docsPage;
  });
  router.get("/docs/init.js", (ctx) => {
    ctx.type = "text/javascript; charset=utf-8";
    ctx.set("Cache-Control", "no-cache");
    ctx.body = initScript;
  });
  router.get("/docs/:asset", (ctx, next) => {
    const type = assets[ctx.params.asset ?? ""];
    if (!type) return next(); // 404 problem
    ctx.type = type;
    ctx.set("Cache-Control", "public, max-age=3600");
    ctx.body = createReadStream(join(swaggerUiDir, ctx.params.asset ?? ""));
  });
  return router;
}

// Relative URLs: the page works behind a proxy that mounts the API under a prefix.
const docsPage = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Herald API reference</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</html>
`;

// validatorUrl off: the default sends the document to an online validator for a badge.
const initScript = `window.ui = SwaggerUIBundle({
  url: new URL("openapi.json", document.baseURI).href,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
});
`;
