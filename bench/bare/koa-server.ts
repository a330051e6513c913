// Bare Koa + @koa/router: what an HTTP front end costs with no I/O behind it. POST /jobs parses the
// JSON body (@koa/bodyparser, as Herald does) and answers 202 with the same JSON Herald answered;
// GET /jobs/:id answers Herald's job view. The bodies are handed over by the row (`bodies`).
import { bodyParser } from "@koa/bodyparser";
import Router from "@koa/router";
import Koa from "koa";
import { serve } from "../procs/ipc.ts";

let accepted = '{"id":"x"}';
let view = '{"id":"x"}';

const app = new Koa();
const router = new Router();
router.post("/jobs", bodyParser({ enableTypes: ["json"], jsonLimit: "1mb" }), (ctx) => {
  if (typeof ctx.request.body !== "object") ctx.throw(400);
  ctx.status = 202;
  ctx.type = "application/json";
  ctx.body = accepted;
});
router.get("/jobs/:id", (ctx) => {
  ctx.type = "application/json";
  ctx.body = view;
});
app.use(router.routes());

const server = app.listen(0, "127.0.0.1");
await new Promise((resolve) => server.once("listening", resolve));
const address = server.address();
const port = typeof address === "object" && address ? address.port : 0;

serve({
  port: () => port,
  bodies: (b: { accepted: string; view: string }) => {
    accepted = b.accepted;
    view = b.view;
  },
});
