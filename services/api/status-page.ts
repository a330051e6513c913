// The status monitor for people: `GET /jobs/{id}` with `Accept: text/html` (someone following the
// status link, token in `?access_token=`) renders the job as a page. It is correct with JavaScript
// off (a `Refresh` header from `Retry-After` reloads it until the job ends) and, with JavaScript on,
// follows the job live through the client library (/client.js). Hand-written: a few lines of HTML
// with escaping do not need a template engine.
import type { Context } from "koa";
import { resultPath } from "../../shared/jobs/job-view.ts";
import type { JobView } from "../../shared/jobs/schemas.ts";

/** True when the request prefers HTML to JSON (a browser navigating; fetch and curl send * / *). */
export function wantsHtml(ctx: Context): boolean {
  // Only an Accept that names html (or text/*) can prefer the page: the full negotiation (an object
  // per call) is for those, not for every poll of a client.
  if (!mayNameHtml.test(ctx.get("Accept"))) return false;
  return ctx.accepts(["application/json", "text/html"]) === "text/html";
}

const mayNameHtml = /html|text\/\*/i;

export interface StatusPageInput {
  view: JobView;
  /** The JSON representation's ETag; the page's own is derived from it (another representation). */
  etag: string;
  /** The secret in the page's URL (`access_token`), needed by its links and its live updates. */
  token: string | null;
  /** Seconds before a reload while the job is unfinished (the status monitor's Retry-After). */
  refreshSeconds: number | null;
}

export function sendStatusPage(ctx: Context, input: StatusPageInput): void {
  ctx.status = 200;
  ctx.type = "text/html; charset=utf-8";
  ctx.set("Cache-Control", "no-store");
  ctx.set("Vary", "Accept");
  ctx.set("ETag", `${input.etag.slice(0, -1)}.html"`);
  if (input.refreshSeconds !== null) ctx.set("Refresh", String(input.refreshSeconds));
  ctx.body = render(input);
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

/** JSON that is safe inside a <script> element. */
const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/</g, "\\u003c");

/** Where the result is, with the token a person's browser needs to open it. */
export function resultLink(view: JobView, token: string | null): string | null {
  if (view.status !== "succeeded" || !view.resultUrl) return null;
  if (view.resultUrl !== resultPath(view.id) || !token) return view.resultUrl;
  return `${view.resultUrl}?access_token=${encodeURIComponent(token)}`;
}

function render({ view, token }: StatusPageInput): string {
  const percent = Math.round(view.progress.percent);
  const link = resultLink(view, token);
  const eta = view.progress.etaSeconds === undefined ? "" : `about ${Math.ceil(view.progress.etaSeconds)} s left`;
  const problem = view.error ? `${view.error.title}${view.error.detail ? `: ${view.error.detail}` : ""}` : "";
  return `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Job ${escapeHtml(view.status)} · Herald</title>
<style>body{font:16px system-ui;margin:2rem auto;max-width:40rem;padding:0 1rem}progress{width:100%;height:1.2rem}
dt{font-weight:600}dd{margin:0 0 .5rem}.error{color:#a00}</style>
<h1>Job <code>${escapeHtml(view.id)}</code></h1>
<div role="status" aria-live="polite">
<p>Status: <strong id="status">${escapeHtml(view.status)}</strong>${view.stalled ? " (stalled: its worker stopped answering)" : ""}</p>
<label for="bar">Progress</label>
<progress id="bar" max="100" value="${percent}">${percent} %</progress>
<p><span id="percent">${percent} %</span> <span id="message">${escapeHtml(view.progress.message ?? "")}</span> <span id="eta">${escapeHtml(eta)}</span></p>
<p id="error" class="error"${problem ? "" : " hidden"}>${escapeHtml(problem)}</p>
<p id="result"${link ? "" : " hidden"}><a id="result-link" href="${escapeHtml(link ?? "")}">Open the result</a></p>
</div>
<dl>
<dt>Type</dt><dd>${escapeHtml(view.type)}</dd>
<dt>Attempts</dt><dd id="attempts">${view.attempts}</dd>
<dt>Created</dt><dd>${escapeHtml(view.createdAt)}</dd>
<dt>Updated</dt><dd id="updated">${escapeHtml(view.updatedAt)}</dd>
</dl>
<p><small>Version <span id="version">${view.version}</span>. This page updates itself${token ? "" : " when reloaded"}.</small></p>
${token ? liveScript(view, token) : ""}
</html>
`;
}

/** With JavaScript on, the page follows the job over the client library instead of waiting for
 * its next reload. */
function liveScript(view: JobView, token: string): string {
  return `<script type="application/json" id="job-ref">${scriptJson({ id: view.id, token })}</script>
<script type="module">
import { HeraldClient } from "/client.js";
// Live from here on: cancel the reload the Refresh header schedules once the page has loaded (it
// is for pages without JS).
if (document.readyState === "complete") window.stop();
else addEventListener("load", () => setTimeout(() => window.stop()), { once: true });
const ref = JSON.parse(document.getElementById("job-ref").textContent);
const $ = (id) => document.getElementById(id);
const show = (v) => {
  if (Number($("version").textContent) > v.version) return;
  const pct = Math.round(v.progress.percent);
  document.title = "Job " + v.status + " · Herald";
  $("status").textContent = v.status;
  $("bar").value = pct;
  $("percent").textContent = pct + " %";
  $("message").textContent = v.progress.message ?? "";
  $("eta").textContent = v.progress.etaSeconds === undefined ? "" : "about " + Math.ceil(v.progress.etaSeconds) + " s left";
  $("attempts").textContent = String(v.attempts);
  $("updated").textContent = v.updatedAt;
  $("version").textContent = String(v.version);
  if (v.error) { $("error").textContent = v.error.title + (v.error.detail ? ": " + v.error.detail : ""); $("error").hidden = false; }
  if (v.status === "succeeded" && v.resultUrl) {
    const own = v.resultUrl === "/jobs/" + v.id + "/result";
    $("result-link").href = own ? v.resultUrl + "?access_token=" + encodeURIComponent(ref.token) : v.resultUrl;
    $("result").hidden = false;
  }
};
const watch = new HeraldClient({ baseUrl: "" }).watch(ref, { onUpdate: show });
watch.done.catch(() => {});
window.heraldWatch = watch;
</script>`;
}
