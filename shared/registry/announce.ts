// A worker's announcement of the job types it serves: written when it starts, refreshed every
// third of its TTL while it runs, withdrawn when it stops gracefully. A worker that dies simply
// stops refreshing: its entries expire after the TTL.
import { createHash } from "node:crypto";
import { z } from "zod";
import type { JobType } from "../jobs/job-types.ts";
import type { Logger } from "../observability/log.ts";
import { type JobTypeAnnouncer, type JobTypeDefinition, stableJson } from "./job-type-registry.ts";

/** A zod-defined job type as the registry holds it: the payload as JSON Schema (input side, so
 * defaults make fields optional) and a version (the type's own, else a digest of the definition,
 * so a changed schema is a new version even if nobody said so). */
export function describeJobType(type: JobType): JobTypeDefinition {
  const payload = z.toJSONSchema(type.payload, {
    io: "input",
    target: "draft-2020-12",
    unrepresentable: "any", // e.g. a refinement: the worker's zod parse still checks it
  }) as Record<string, unknown>;
  const retry = { ...type.retry };
  const version =
    type.version ??
    createHash("sha256")
      .update(stableJson({ description: type.description, payload, retry }))
      .digest("hex")
      .slice(0, 12);
  return { name: type.name, version, description: type.description, payload, retry };
}

export interface AnnouncementOptions {
  registry: JobTypeAnnouncer;
  types: readonly JobType[];
  workerId: string;
  /** How long an announcement holds without a refresh. */
  ttlMs: number;
  log: Logger;
}

export interface Announcement {
  /** Stops refreshing and removes this worker's entries. Safe to call twice. */
  withdraw(): Promise<void>;
}

/** Announces now (throws if that fails: a worker nobody knows of should not start), then keeps
 * the announcement fresh until withdrawn. */
export async function announceJobTypes(o: AnnouncementOptions): Promise<Announcement> {
  const definitions = o.types.map(describeJobType);
  const names = definitions.map((d) => d.name);
  await o.registry.announce(definitions, o.workerId, o.ttlMs);
  // The refresh in flight, if any: withdraw waits for it, else its write could land after the
  // removal and count this worker as serving for another TTL.
  let refreshing: Promise<void> = Promise.resolve();
  let withdrawing: Promise<void> | null = null;
  const timer = setInterval(
    () => {
      if (withdrawing) return;
      refreshing = o.registry
        .refresh(definitions, o.workerId, o.ttlMs)
        .catch((err: unknown) => o.log.warn("job type announcement not refreshed", { error: String(err) }));
    },
    Math.max(100, Math.floor(o.ttlMs / 3)),
  );
  timer.unref();
  return {
    withdraw() {
      withdrawing ??= (async () => {
        clearInterval(timer);
        await refreshing;
        await o.registry
          .withdraw(names, o.workerId)
          .catch((err: unknown) => o.log.warn("job type announcement not withdrawn", { error: String(err) }));
      })();
      return withdrawing;
    },
  };
}
