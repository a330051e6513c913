// A fresh job record (version 1, queued) and its access token, shown once to the submitter.
import { randomUUID } from "node:crypto";
import type { JobRecord } from "../jobs/schemas.ts";
import { hashToken, newToken } from "./tokens.ts";

export function newJob(type: string, owner?: string): { record: JobRecord; token: string } {
  const now = new Date().toISOString();
  const token = newToken();
  const record: JobRecord = {
    id: randomUUID(),
    type,
    status: "queued",
    version: 1,
    attempts: 0,
    progress: { percent: 0 },
    tokenHash: hashToken(token),
    createdAt: now,
    updatedAt: now,
    ...(owner ? { owner } : {}),
  };
  return { record, token };
}
