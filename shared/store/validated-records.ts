// Job records as read from Redis, validated once per content. The status monitor reads the same job
// over and over while it does not change (every poll of a queued job, every 304): parsing its JSON
// and running the zod schema each time was a few per cent of a GET's CPU. A record's text identical
// to one that passed the schema is the same record, so it is answered from here; any other text
// (a new version, or one a foreign writer changed) is parsed and validated in full, and text that
// fails the schema is never remembered.
import { JobRecord } from "../jobs/schemas.ts";

/** How many jobs' last validated records are kept (a few hundred bytes each). */
export const validatedRecordsLimit = 1024;

export class ValidatedRecords {
  private readonly byId = new Map<string, { raw: string; record: JobRecord }>();

  constructor(private readonly limit = validatedRecordsLimit) {}

  /** Job `id`'s record from its stored text `raw`, validated by the schema (throws as
   * JobRecord.parse does), or the one validated before when `raw` is the same text. The record is
   * frozen, deeply: one object may be handed to several readers, and none may change it. */
  parse(id: string, raw: string): JobRecord {
    const known = this.byId.get(id);
    if (known?.raw === raw) return known.record;
    const record = JobRecord.parse(JSON.parse(raw));
    // A record stored under another job's key is not this job's: validate it, never remember it.
    return record.id === id ? this.remember(id, raw, record) : record;
  }

  private remember(id: string, raw: string, record: JobRecord): JobRecord {
    deepFreeze(record);
    this.byId.delete(id); // re-inserted last: the oldest entry is the one dropped
    this.byId.set(id, { raw, record });
    if (this.byId.size > this.limit) {
      const oldest = this.byId.keys().next().value;
      if (oldest !== undefined) this.byId.delete(oldest);
    }
    return record;
  }
}

function deepFreeze(value: unknown): void {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}
