// Job shards: every job belongs to one of a fixed number of shards, and all its Redis keys, and the
// per-namespace structures of its shard (leases, queued and recent-jobs indexes, control channel),
// carry that shard's hash tag. On Redis Cluster a job's keys and its shard's structures then share one
// slot, so each store script and MULTI stays atomic; the shards spread the namespace over the nodes.
// The shard count and tags are a constant of the worker protocol (docs/worker-protocol.md), read from
// ./scripts/shards.json, the file a worker in another language reads too (beside the Lua scripts it
// calls). Regenerate with scripts/shard-tags.ts.
import { readFileSync } from "node:fs";
import { crc32 } from "node:zlib";

interface ShardFile {
  shards: number;
  tags: string[];
}

const file = JSON.parse(readFileSync(new URL("./scripts/shards.json", import.meta.url), "utf8")) as ShardFile;
if (file.tags.length !== file.shards)
  throw new Error(`shards.json: ${file.tags.length} tags for ${file.shards} shards`);

/** How many shards the jobs of a namespace are spread over. */
export const shardCount: number = file.shards;

/** Shard k's hash tag (the text between the braces of its keys). */
export const shardTags: readonly string[] = Object.freeze([...file.tags]);

/** Every shard number, for readers that visit all of them. */
export const allShards: readonly number[] = Object.freeze(shardTags.map((_, k) => k));

// The last job's shard: a store call names several keys of one job (a commit: five), each of which
// asks for the shard again.
let lastId = "";
let lastShard = 0;

/** The shard of a job: CRC-32 (zlib's, as Python's zlib.crc32) of its id's UTF-8 bytes, mod the count. */
export function shardOf(jobId: string): number {
  if (jobId !== lastId) {
    lastShard = crc32(jobId) % shardCount;
    lastId = jobId;
  }
  return lastShard;
}
