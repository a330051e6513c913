// This application's job types, for `herald worker --jobs ./jobs.mjs`. One type: a sales report
// rendered to PDF. Gathering each month's figures stands in for a slow query (a few hundred ms);
// the worker reports progress per month, honours cancellation (ctx.signal) and writes the PDF
// where the web server (server.mjs) serves it.
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { defineJob, PermanentError, z } from "herald/worker";
import { renderReport } from "./report.mjs";

const reportsDir = resolve(process.env.REPORTS_DIR ?? "reports");
const queryMs = Number(process.env.REPORT_QUERY_MS ?? 300);

export default [
  defineJob({
    name: "sales-report",
    description: "Renders a sales report for a region to PDF: monthly orders and revenue, a chart and a table.",
    payload: z.object({
      title: z.string().min(1).max(120),
      region: z.enum(["north", "south", "east", "west"]),
      months: z.int().min(1).max(36).default(12),
      from: z
        .string()
        .regex(/^\d{4}-\d{2}$/, "a month like 2026-01")
        .default("2026-01"),
    }),
    retry: { maxAttempts: 3, timeoutMs: 5 * 60_000 },
    run: async ({ title, region, months, from }, ctx) => {
      const [year, month] = from.split("-").map(Number);
      if (month < 1 || month > 12) throw new PermanentError(`no month ${from}`); // another try cannot help
      const rows = [];
      for (let i = 0; i < months; i++) {
        rows.push(await monthFigures(region, year, month + i, ctx.signal));
        ctx.progress({
          percent: Math.round(((i + 1) / (months + 1)) * 100),
          message: `gathered ${rows.at(-1).month}`,
          etaSeconds: ((months - i - 1) * queryMs) / 1000,
        });
      }
      ctx.progress({ percent: Math.round((months / (months + 1)) * 100), message: "rendering the PDF" });
      const { pdf, pages, total } = await renderReport({ title, region, rows });
      await mkdir(reportsDir, { recursive: true });
      const file = join(reportsDir, `${ctx.jobId}.pdf`);
      await writeFile(`${file}.tmp`, pdf);
      await rename(`${file}.tmp`, file); // the server never sees half a file
      return { file: `/reports/${ctx.jobId}.pdf`, pages, bytes: pdf.length, months, totalRevenue: total };
    },
  }),
];

/** One month's figures: deterministic per region and month, after a query's worth of waiting. */
async function monthFigures(region, year, monthIndex, signal) {
  signal.throwIfAborted();
  await new Promise((done, fail) => {
    const timer = setTimeout(done, queryMs);
    const abort = () => {
      clearTimeout(timer);
      fail(signal.reason);
    };
    signal.addEventListener("abort", abort, { once: true });
  });
  const date = new Date(Date.UTC(year, monthIndex - 1, 1));
  const month = date.toISOString().slice(0, 7);
  let seed = [...`${region}${month}`].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  const random = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const orders = 200 + Math.floor(random() * 800);
  return { month, orders, revenue: Math.round(orders * (40 + random() * 60)) };
}
