// The demo for people trying Herald (GET / and GET /demo): submit demo and csv-summary jobs, several
// at once, and watch each one live (progress, ETA, the channel in use) until its result or error,
// with a cancel button. Plain HTML and one module script that uses only the public API of the
// client library (/client.js): no framework and nothing from a CDN, so it runs offline.
import Router from "@koa/router";

export function demoRoutes(): Router {
  const router = new Router();
  for (const path of ["/", "/demo"]) {
    router.get(path, (ctx) => {
      ctx.type = "text/html; charset=utf-8";
      ctx.set("Cache-Control", "no-cache");
      ctx.body = demoPage;
    });
  }
  return router;
}

const sampleCsv = `city,country,population,area_km2
Lisbon,Portugal,545923,100.05
Porto,Portugal,231800,41.42
Madrid,Spain,3280782,604.3
Seville,Spain,684234,140.8
Lyon,France,522250,47.87
Nantes,France,320732,65.19
`;

const style = `
:root{color-scheme:light dark;--line:#8884;--muted:#6b7280;--ok:#15803d;--bad:#b91c1c;--accent:#2563eb}
*{box-sizing:border-box}
body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;max-width:56rem;padding:1.5rem 1rem}
h1{margin:0 0 .25rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}form h2{margin-top:0}h3{font-size:1rem;margin:0}
.lead{margin:0 0 1rem;color:var(--muted)}
form{border:1px solid var(--line);border-radius:.5rem;padding:1rem}
fieldset{border:0;margin:0 0 .75rem;padding:0}legend{font-weight:600;padding:0;margin-bottom:.35rem}
.row{display:flex;flex-wrap:wrap;gap:.75rem 1.5rem;align-items:end}
label{display:inline-flex;flex-direction:column;gap:.2rem;font-size:.9rem}
label.inline{flex-direction:row;align-items:center;gap:.4rem;font-size:1rem}
input[type=number]{width:8rem}input,select,textarea,button{font:inherit}
textarea{width:100%;min-height:8rem;font:13px/1.4 ui-monospace,monospace}
.csv label{display:flex}
button{padding:.35rem .9rem;border-radius:.35rem;border:1px solid var(--line);cursor:pointer}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button:disabled{opacity:.5;cursor:default}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.problem{color:var(--bad)}.problem[data-status=canceled]{color:var(--muted)}
#jobs{list-style:none;margin:0;padding:0;display:grid;gap:.75rem}
.job{border:1px solid var(--line);border-radius:.5rem;padding:.75rem 1rem}
.job header{display:flex;justify-content:space-between;gap:1rem;align-items:baseline;flex-wrap:wrap}
.job .id{font-size:.8rem;color:var(--muted)}
.job progress{width:100%;height:1rem;margin:.4rem 0 .2rem}
.facts{display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;margin:0;font-size:.9rem}
.facts dt{color:var(--muted)}.facts dt::after{content:":"}.facts div{display:flex;gap:.35rem}.facts dd{margin:0}
.status{font-weight:600}.status[data-status=succeeded]{color:var(--ok)}
.status[data-status=failed]{color:var(--bad)}.status[data-status=canceled]{color:var(--muted)}
.channel{font-family:ui-monospace,monospace}
.result{margin:.5rem 0 0;padding:.5rem;max-height:10rem;overflow:auto;border-radius:.35rem;background:#8881;font-size:13px}
.actions{display:flex;gap:1rem;align-items:center;margin-top:.5rem}
details{margin-top:.4rem;font-size:.85rem}.history{font:12px/1.5 ui-monospace,monospace;margin:.25rem 0 0}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
`;

// The page's script. Each job gets a card (cloned from the <template>); a card is updated from the
// watch's onUpdate, and a ticker refreshes what changes without news (ETA countdown, channel).
const script = `
import { HeraldClient } from "/client.js";

const client = new HeraldClient({ baseUrl: "" });
addEventListener("pagehide", () => client.close());

const $ = (id) => document.getElementById(id);
const form = $("new-job");
const list = $("jobs");
const announce = (text) => { $("announcer").textContent = text; };
const ended = (status) => status === "succeeded" || status === "failed" || status === "canceled";
const cards = new Set();
let count = 0;

function showType() {
  const type = form.elements.type.value;
  for (const set of form.querySelectorAll("[data-for-type]")) {
    const on = set.dataset.forType === type;
    set.hidden = !on;
    set.disabled = !on; // a hidden field must not block the form's validation
  }
}
for (const radio of form.elements.type) radio.addEventListener("change", showType);
showType();

function payloadFromForm() {
  const f = form.elements;
  if (f.type.value === "csv-summary") {
    return { csv: f.csv.value, delimiter: f.delimiter.value, header: f.header.checked };
  }
  const payload = { steps: Number(f.steps.value), stepMs: Number(f.stepMs.value) };
  if (f.fail.checked) payload.fail = "failed on purpose (the demo's failure switch)";
  return payload;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const type = form.elements.type.value;
  const payload = payloadFromForm();
  const copies = Math.max(1, Math.min(20, Number(form.elements.copies.value) || 1));
  $("form-problem").hidden = true;
  const submitted = await Promise.allSettled(Array.from({ length: copies }, () => client.submit(type, payload)));
  const refused = submitted.filter((s) => s.status === "rejected");
  for (const s of submitted) if (s.status === "fulfilled") follow(s.value);
  if (refused.length > 0) {
    const err = refused[0].reason;
    const why = err?.problem?.detail ?? err?.problem?.title ?? err?.message ?? String(err);
    $("form-problem").textContent = refused.length + " of " + copies + " not accepted: " + why;
    $("form-problem").hidden = false;
  }
});

$("clear").addEventListener("click", () => {
  for (const card of [...cards]) if (card.finished) { card.el.remove(); cards.delete(card); }
});

function follow(job) {
  const n = ++count;
  const el = $("job-template").content.firstElementChild.cloneNode(true);
  const part = (name) => el.querySelector("[data-part=" + name + "]");
  const title = "Job " + n + " (" + job.type + ")";
  el.id = "job-" + n;
  el.dataset.jobId = job.id;
  part("title").textContent = title;
  part("title").id = "job-" + n + "-title";
  el.querySelector("article").setAttribute("aria-labelledby", part("title").id);
  part("id").textContent = job.id;
  part("bar").setAttribute("aria-label", "Progress of " + title);
  part("cancel").setAttribute("aria-label", "Cancel " + title);
  part("status-link").href = "/jobs/" + job.id + "?access_token=" + encodeURIComponent(job.token);
  part("status-link").setAttribute("aria-label", "Status page of " + title);
  list.prepend(el);

  const card = { el, finished: false, view: job, etaAt: 0, firstRun: null };
  cards.add(card);
  const watch = client.watch(job, { onUpdate: (view) => show(view) });
  card.watch = watch;
  tick(card);

  function show(view) {
    const previous = card.view.status;
    card.view = view;
    card.etaAt = Date.now();
    if (view.status === "running" && card.firstRun === null) card.firstRun = { at: Date.now(), percent: view.progress.percent };
    const pct = Math.round(view.progress.percent);
    part("status").textContent = view.status + (view.cancelRequested && !ended(view.status) ? " (cancel requested)" : "");
    part("status").dataset.status = view.status;
    part("bar").value = pct;
    part("bar").textContent = pct + " %";
    part("percent").textContent = pct + " %";
    part("message").textContent = view.progress.message ?? "";
    part("attempts").textContent = String(view.attempts);
    const line = document.createElement("li");
    line.textContent = "v" + view.version + " " + view.status + " " + pct + "% via " + (watch.channel ?? "-");
    part("history").append(line);
    tick(card);
    if (view.status !== previous) announce(title + ": " + view.status);
    if (ended(view.status)) {
      part("cancel").disabled = true;
      part("note").textContent = "";
    }
  }

  part("cancel").addEventListener("click", async () => {
    part("cancel").disabled = true;
    try {
      const res = await fetch("/jobs/" + job.id, { method: "DELETE", headers: { authorization: "Bearer " + job.token } });
      if (res.status >= 400) {
        const problem = await res.json().catch(() => ({}));
        part("note").textContent = "Cancel refused: " + (problem.detail ?? problem.title ?? res.status);
      } else part("note").textContent = res.status === 202 ? "Cancel requested: the worker stops the job." : "";
    } catch (err) {
      part("note").textContent = "Cancel failed: " + err.message;
      part("cancel").disabled = ended(card.view.status);
    }
  });

  watch.result().then(
    (result) => {
      part("result").textContent = JSON.stringify(result, null, 2);
      part("outcome").hidden = false;
    },
    (err) => {
      const view = card.view;
      const problem = view.error;
      part("error").textContent =
        view.status === "canceled" ? "Canceled" + (problem?.detail ? ": " + problem.detail : ".")
        : view.status === "failed" ? "Failed: " + (problem ? problem.title + (problem.detail ? ": " + problem.detail : "") : err.message)
        : "Lost track of the job: " + err.message;
      part("error").dataset.status = view.status;
      part("error").hidden = false;
      if (!ended(view.status)) announce(title + ": " + part("error").textContent);
    },
  ).finally(() => {
    card.finished = true;
    part("cancel").disabled = true;
    tick(card);
  });
}

/** What a card shows between updates: the channel in use and the ETA counting down. */
function tick(card) {
  const part = (name) => card.el.querySelector("[data-part=" + name + "]");
  const channel = card.watch?.channel ?? "-";
  if (part("channel").textContent !== channel) part("channel").textContent = channel;
  const view = card.view;
  let eta = "";
  if (view.status === "running" || view.status === "queued") {
    let seconds = view.progress.etaSeconds;
    if (seconds !== undefined) seconds -= (Date.now() - card.etaAt) / 1000;
    else if (card.firstRun && view.progress.percent > card.firstRun.percent) {
      // No estimate from the job: extrapolate from the progress seen so far.
      const rate = (view.progress.percent - card.firstRun.percent) / (card.etaAt - card.firstRun.at);
      seconds = (100 - view.progress.percent) / rate / 1000 - (Date.now() - card.etaAt) / 1000;
    }
    if (seconds !== undefined) eta = seconds > 0.5 ? "about " + Math.ceil(seconds) + " s" : "any moment";
  }
  part("eta").textContent = eta || "–";
}
setInterval(() => { for (const card of cards) if (!card.finished) tick(card); }, 500);
`;

const demoPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Herald demo</title>
<style>${style}</style>
</head>
<body>
<main>
<h1>Herald demo</h1>
<p class="lead">Submit long-running jobs and watch them: each answer is <code>202 Accepted</code> at once, then progress
and the result arrive live over Socket.IO, SSE or polling, whichever works.
<a href="/docs">API reference</a>.</p>

<form id="new-job" aria-labelledby="new-job-title">
<h2 id="new-job-title">New job</h2>
<fieldset>
<legend>Job type</legend>
<div class="row">
<label class="inline"><input type="radio" name="type" value="demo" checked> demo (counts through steps)</label>
<label class="inline"><input type="radio" name="type" value="csv-summary"> csv-summary (summarises a CSV document)</label>
</div>
</fieldset>
<fieldset data-for-type="demo">
<legend>Demo job</legend>
<div class="row">
<label for="steps">Steps <input id="steps" name="steps" type="number" value="10" min="1" max="1000" required></label>
<label for="stepMs">Step time (ms) <input id="stepMs" name="stepMs" type="number" value="500" min="0" max="60000" required></label>
<label class="inline"><input id="fail" name="fail" type="checkbox"> Fail halfway through</label>
</div>
</fieldset>
<fieldset data-for-type="csv-summary" class="csv" hidden disabled>
<legend>CSV summary job</legend>
<label for="csv">CSV document <textarea id="csv" name="csv" spellcheck="false" required>${sampleCsv}</textarea></label>
<div class="row">
<label for="delimiter">Delimiter <select id="delimiter" name="delimiter">
<option value=",">comma</option><option value=";">semicolon</option><option value="&#9;">tab</option><option value="|">pipe</option>
</select></label>
<label class="inline"><input id="header" name="header" type="checkbox" checked> First row is a header</label>
</div>
</fieldset>
<div class="row">
<label for="copies">How many at once <input id="copies" name="copies" type="number" value="1" min="1" max="20"></label>
<button id="run" class="primary" type="submit">Submit</button>
</div>
<p id="form-problem" class="problem" role="alert" hidden></p>
</form>

<section aria-labelledby="jobs-title">
<div class="row" style="justify-content:space-between">
<h2 id="jobs-title">Jobs</h2>
<button id="clear" type="button">Clear finished jobs</button>
</div>
<ol id="jobs"></ol>
</section>
<p id="announcer" class="visually-hidden" role="status" aria-live="polite"></p>
</main>

<template id="job-template">
<li class="job"><article>
<header><h3 data-part="title"></h3><code class="id" data-part="id"></code></header>
<progress data-part="bar" max="100" value="0">0 %</progress>
<dl class="facts">
<div><dt>Status</dt><dd class="status" data-part="status" data-status="queued">queued</dd></div>
<div><dt>Progress</dt><dd><span data-part="percent">0 %</span> <span data-part="message"></span></dd></div>
<div><dt>ETA</dt><dd data-part="eta">–</dd></div>
<div><dt>Channel</dt><dd class="channel" data-part="channel">-</dd></div>
<div><dt>Attempts</dt><dd data-part="attempts">0</dd></div>
</dl>
<p class="problem" data-part="error" hidden></p>
<div data-part="outcome" hidden><strong>Result</strong><pre class="result" data-part="result"></pre></div>
<div class="actions">
<button type="button" data-part="cancel">Cancel</button>
<a data-part="status-link" target="_blank" rel="noopener">Status page</a>
<span data-part="note"></span>
</div>
<details><summary>Updates</summary><ol class="history" data-part="history"></ol></details>
</article></li>
</template>
<script type="module">${script}</script>
</body>
</html>
`;
