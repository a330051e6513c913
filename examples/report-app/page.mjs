// The page's script (bundled by `npm run build` into public/app.js): asks the server for a report,
// then follows the job live with herald/client (Socket.IO, falling back to SSE and polling).
import { HeraldClient, JobFailedError } from "herald/client";

const form = document.querySelector("form");
const bar = document.querySelector("progress");
const status = document.querySelector("#status");
const link = document.querySelector("#link");
const report = document.querySelector("#report");
const { heraldUrl } = await (await fetch("/config.json")).json();
const herald = new HeraldClient({ baseUrl: heraldUrl });

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  report.hidden = true;
  bar.value = 0;
  const res = await fetch("/reports", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(Object.fromEntries(new FormData(form))),
  });
  const body = await res.json();
  if (!res.ok) {
    status.textContent = `${body.title}: ${(body.errors ?? []).map((e) => `${e.path} ${e.message}`).join("; ")}`;
    return;
  }
  const watch = herald.watch(body, {
    onUpdate: (job) => {
      status.textContent = `${job.status} via ${watch.channel}: ${job.progress?.message ?? ""}`;
      bar.value = job.progress?.percent ?? 0;
    },
  });
  try {
    await watch.done;
    const made = await watch.result();
    status.textContent = `done: ${made.months} months, total revenue €${made.totalRevenue.toLocaleString()}`;
    link.href = made.file;
    link.textContent = `Open the report (${made.pages} page(s), ${Math.round(made.bytes / 1024)} KB)`;
    report.hidden = false;
  } catch (err) {
    status.textContent = err instanceof JobFailedError ? `failed: ${err.message}` : String(err);
  } finally {
    watch.close();
  }
});
