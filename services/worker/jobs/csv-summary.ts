// Summarises a CSV document: the kind of work a user sends to the background because a request
// would time out on a big upload. Reports progress every chunk of rows.
import { z } from "zod";
import { defineJobType } from "../../../shared/jobs/job-types.ts";
import { handle } from "../../../shared/worker/handlers.ts";
import { parseCsv } from "./csv-parse.ts";

/** A realistic example: summarise an uploaded CSV document (row count, per-column statistics). */
export const csvSummaryJob = defineJobType({
  name: "csv-summary",
  description: "Parses a CSV document (RFC 4180) and returns per-column counts, distinct values and numeric stats.",
  payload: z.strictObject({
    csv: z.string().min(1).max(900_000),
    delimiter: z.enum([",", ";", "\t", "|"]).default(","),
    header: z.boolean().default(true),
  }),
});
export type CsvSummaryPayload = z.infer<typeof csvSummaryJob.payload>;

const maxDistinctTracked = 1000;

interface ColumnStats {
  name: string;
  values: number;
  empty: number;
  distinct: Set<string>;
  distinctOverflow: boolean;
  numeric: { count: number; min: number; max: number; sum: number };
}

export const csvSummaryHandler = handle(csvSummaryJob, async ({ csv, delimiter, header }, ctx) => {
  const rows = parseCsv(csv, delimiter);
  const first = rows[0] ?? [];
  const names = header ? first : first.map((_, i) => `column${i + 1}`);
  const body = header ? rows.slice(1) : rows;
  const columns: ColumnStats[] = names.map((name) => ({
    name,
    values: 0,
    empty: 0,
    distinct: new Set(),
    distinctOverflow: false,
    numeric: { count: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, sum: 0 },
  }));
  const chunk = Math.max(1, Math.ceil(body.length / 20));
  let ragged = 0;
  for (let r = 0; r < body.length; r++) {
    ctx.signal.throwIfAborted();
    const row = body[r] ?? [];
    if (row.length !== columns.length) ragged++;
    row.forEach((cell, i) => {
      const col = columns[i];
      if (col) add(col, cell);
    });
    if ((r + 1) % chunk === 0) {
      ctx.progress({ percent: Math.round(((r + 1) / body.length) * 100), message: `${r + 1} of ${body.length} rows` });
      await new Promise((resolve) => setImmediate(resolve)); // stay responsive to acks and aborts
    }
  }
  return {
    rows: body.length,
    raggedRows: ragged,
    columns: columns.map((c) => ({
      name: c.name,
      values: c.values,
      empty: c.empty,
      distinct: c.distinctOverflow ? `>${maxDistinctTracked}` : c.distinct.size,
      numeric:
        c.numeric.count === 0
          ? null
          : { count: c.numeric.count, min: c.numeric.min, max: c.numeric.max, mean: c.numeric.sum / c.numeric.count },
    })),
  };
});

function add(col: ColumnStats, cell: string): void {
  if (cell.trim() === "") {
    col.empty++;
    return;
  }
  col.values++;
  if (!col.distinctOverflow) {
    col.distinct.add(cell);
    if (col.distinct.size > maxDistinctTracked) {
      col.distinctOverflow = true;
      col.distinct.clear();
    }
  }
  const n = Number(cell);
  if (Number.isFinite(n)) {
    col.numeric.count++;
    col.numeric.sum += n;
    col.numeric.min = Math.min(col.numeric.min, n);
    col.numeric.max = Math.max(col.numeric.max, n);
  }
}
