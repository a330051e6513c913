// Regenerates shared/store/scripts/shards.json: one hash tag per job shard, shard k's tag hashing into
// key slots [k * 1024, (k + 1) * 1024), so the shards spread evenly over a cluster whose masters hold
// contiguous equal slot ranges (what `redis-cli --cluster create` gives). The tags are a constant of
// the worker protocol: changing them moves every job key (run only with an empty Redis).
//   node --import tsx scripts/shard-tags.ts
import { writeFileSync } from "node:fs";
import { keySlot, slotCount } from "../test/helpers/key-slot.ts";

const shards = 16;
const width = slotCount / shards;
const tags: string[] = [];
for (let k = 0; k < shards; k++) {
  // The first `<k>-<n>` in shard k's slot range: short, and says which shard it is.
  let n = 0;
  while (Math.floor(keySlot(`${k}-${n}`) / width) !== k) n++;
  tags.push(`${k}-${n}`);
}
const file = new URL("../shared/store/scripts/shards.json", import.meta.url);
writeFileSync(file, `${JSON.stringify({ shards, tags }, null, 2)}\n`);
process.stderr.write(`wrote ${file.pathname}: ${tags.join(" ")}\n`);
