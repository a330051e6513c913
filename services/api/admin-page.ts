// The operator page (GET /admin): one static HTML shell with a login form and a script that talks
// to the operator API (/admin/api/…) with the token kept in sessionStorage (gone with the tab),
// polling every few seconds. The shell holds no data, so it is served to anyone, with the status
// that tells the truth about the request's credential (401 none, 403 wrong, 200 right). Text from
// jobs is only ever set with textContent. Hand-written: one page does not need a framework.
import { randomBytes } from "node:crypto";
import type { Context } from "koa";
import { type AdminCheck, adminRealm } from "./admin-auth.ts";

/** Seconds between two refreshes of the page's data. */
export const adminPollSeconds = 2;

export function sendAdminPage(ctx: Context, verdict: AdminCheck): void {
  ctx.status = verdict === "ok" ? 200 : verdict === "missing" ? 401 : 403;
  if (verdict === "missing") ctx.set("WWW-Authenticate", adminRealm);
  const nonce = randomBytes(16).toString("base64");
  ctx.type = "text/html; charset=utf-8";
  ctx.set("Cache-Control", "no-store");
  ctx.set("Referrer-Policy", "no-referrer");
  ctx.set("X-Frame-Options", "DENY");
  ctx.set(
    "Content-Security-Policy",
    `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`,
  );
  ctx.body = page(nonce);
}

const page = (nonce: string): string => `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Herald operator</title>
<style nonce="${nonce}">
body{font:15px system-ui;margin:1.5rem auto;max-width:72rem;padding:0 1rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{border-bottom:1px solid #ddd;padding:.3rem .4rem;text-align:left;font-size:14px}
code{font-size:13px}.error{color:#a00}dl.stats{display:flex;flex-wrap:wrap;gap:1.5rem}dl.stats dt{font-weight:600}dl.stats dd{margin:0}
form.filters{display:flex;gap:.8rem;flex-wrap:wrap;align-items:end}[hidden]{display:none!important}
</style>
<h1>Herald operator</h1>
<p id="notice" role="alert" class="error"></p>
<form id="login">
<p>Enter the operator token (<code>ADMIN_TOKEN</code>). It stays in this tab only.</p>
<label for="token">Admin token</label> <input id="token" name="token" type="password" autocomplete="current-password" required minlength="32">
<button type="submit">Sign in</button>
</form>
<main id="app" hidden>
<p><button id="logout" type="button">Sign out</button> <small>Updates every ${adminPollSeconds} s; last at <span id="updated">–</span>.</small></p>
<h2>Queue</h2>
<dl class="stats" aria-live="polite">
<div><dt>Queue depth</dt><dd id="queue-depth">–</dd></div>
<div><dt>Dead letters</dt><dd id="dead-count">–</dd></div>
<div><dt>Accepted / min</dt><dd id="rate-accepted">–</dd></div>
<div><dt>Succeeded / min</dt><dd id="rate-succeeded">–</dd></div>
<div><dt>Failed / min</dt><dd id="rate-failed">–</dd></div>
</dl>
<h2>Recent jobs</h2>
<form id="filters" class="filters">
<label>Status <select id="f-status"><option value="">any</option><option>queued</option><option>running</option><option>succeeded</option><option>failed</option><option>canceled</option></select></label>
<label>Type <input id="f-type" size="14"></label>
<label>Job id <input id="f-id" size="38" placeholder="search by id"></label>
<button type="submit">Apply</button>
</form>
<table id="jobs"><thead><tr><th>Id</th><th>Type</th><th>Status</th><th>Progress</th><th>Attempts</th><th>Created</th><th>Updated</th></tr></thead><tbody></tbody></table>
<h2>Dead letters</h2>
<p><button id="replay-all" type="button">Replay all</button> <span id="replay-result" role="status"></span></p>
<table id="dead"><thead><tr><th>Job id</th><th>Type</th><th>Reason</th><th></th></tr></thead><tbody></tbody></table>
</main>
<script nonce="${nonce}">
"use strict";
const $ = (id) => document.getElementById(id);
const key = "heraldAdminToken";
let timer = null;
const cell = (tr, text) => { const td = document.createElement("td"); td.textContent = text; tr.append(td); return td; };
async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...init.headers, authorization: "Bearer " + sessionStorage.getItem(key) } });
  const body = await res.json().catch(() => null);
  if (res.status === 401 || res.status === 403) { signOut(res.status === 403 ? "That token is wrong." : "Sign in first."); throw new Error("signed out"); }
  if (!res.ok) throw new Error((body && (body.detail || body.title)) || "HTTP " + res.status);
  return body;
}
function jobsQuery() {
  const q = new URLSearchParams();
  for (const [name, id] of [["status", "f-status"], ["type", "f-type"], ["id", "f-id"]]) {
    const v = $(id).value.trim();
    if (v) q.set(name, v);
  }
  return q.toString();
}
function showJobs(jobs) {
  const rows = jobs.map((j) => {
    const tr = document.createElement("tr");
    tr.dataset.jobId = j.id;
    tr.dataset.status = j.status;
    cell(tr, "").append(Object.assign(document.createElement("code"), { textContent: j.id }));
    cell(tr, j.type);
    cell(tr, j.status + (j.error ? " (" + j.error.title + ")" : "")).className = "status";
    cell(tr, Math.round(j.progress.percent) + " %" + (j.progress.message ? " " + j.progress.message : ""));
    cell(tr, String(j.attempts));
    cell(tr, j.createdAt);
    cell(tr, j.updatedAt);
    return tr;
  });
  $("jobs").tBodies[0].replaceChildren(...rows);
}
function showStats(s) {
  $("queue-depth").textContent = s.queueDepth ?? "unknown";
  $("dead-count").textContent = s.deadLetters ?? "unknown";
  $("rate-accepted").textContent = String(s.rates.accepted);
  $("rate-succeeded").textContent = String(s.rates.succeeded);
  $("rate-failed").textContent = String(s.rates.failed);
}
function showDead(d) {
  const rows = d.messages.map((m) => {
    const tr = document.createElement("tr");
    if (m.jobId) tr.dataset.jobId = m.jobId;
    cell(tr, m.jobId ?? "(not a job message)");
    cell(tr, m.type ?? "");
    cell(tr, m.reason ?? "");
    const td = cell(tr, "");
    if (m.jobId) {
      const b = Object.assign(document.createElement("button"), { type: "button", textContent: "Replay" });
      b.className = "replay";
      b.addEventListener("click", () => replay({ jobIds: [m.jobId] }));
      td.append(b);
    }
    return tr;
  });
  $("dead").tBodies[0].replaceChildren(...rows);
}
async function replay(body) {
  try {
    const r = await api("/admin/api/dead-letters/replay", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    $("replay-result").textContent = "Replayed " + r.replayed.length + ", kept " + r.kept.length + (r.kept.length ? " (" + r.kept.map((k) => k.reason).join("; ") + ")" : "") + ".";
  } catch (err) { $("replay-result").textContent = "Replay failed: " + err.message; }
  refresh();
}
async function refresh() {
  clearTimeout(timer);
  try {
    const [jobs, stats, dead] = await Promise.all([api("/admin/api/jobs?" + jobsQuery()), api("/admin/api/stats"), api("/admin/api/dead-letters")]);
    showJobs(jobs.jobs); showStats(stats); showDead(dead);
    $("updated").textContent = new Date().toLocaleTimeString();
    $("notice").textContent = "";
  } catch (err) {
    if (!sessionStorage.getItem(key)) return;
    $("notice").textContent = "Could not refresh: " + err.message;
  }
  if (sessionStorage.getItem(key)) timer = setTimeout(refresh, ${adminPollSeconds * 1000});
}
function signIn() { $("login").hidden = true; $("app").hidden = false; refresh(); }
function signOut(message) {
  clearTimeout(timer);
  sessionStorage.removeItem(key);
  $("app").hidden = true; $("login").hidden = false;
  $("notice").textContent = message || "";
}
$("login").addEventListener("submit", (e) => { e.preventDefault(); sessionStorage.setItem(key, $("token").value.trim()); $("token").value = ""; signIn(); });
$("logout").addEventListener("click", () => signOut());
$("filters").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
$("replay-all").addEventListener("click", () => replay({ all: true }));
if (sessionStorage.getItem(key)) signIn();
</script>
</html>
`;
