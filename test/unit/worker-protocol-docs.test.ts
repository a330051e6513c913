// docs/worker-protocol.md and the Python worker spell Herald's names and scripts for other languages:
// they must follow the code. A changed key, channel, queue or retry tier in shared/ fails here until
// the document and examples/python-worker/herald_worker/names.py say the same.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { expect } from "chai";
import { retryTiersMs } from "../../shared/queue/queue-topology.ts";
import { names } from "../../shared/store/names.ts";
import { shardCount, shardTags } from "../../shared/store/shards.ts";

const root = new URL("../../", import.meta.url);
const doc = readFileSync(new URL("docs/worker-protocol.md", root), "utf8");
const python = process.env.PYTHON ?? "/usr/bin/python3";

describe("unit: the worker protocol document and the Python worker follow the code", () => {
  const n = names("<ns>");
  const id = "<id>";
  /** A name as the document spells it: the shard's tag as `<tag>`. */
  const spell = (name: string, shard: number) => name.replace(`{${shardTags[shard]}}`, "{<tag>}");
  const ofJob = (name: string) => spell(name, n.shardOf(id));

  it("the document links every Lua script of the store", () => {
    const scripts = readdirSync(new URL("shared/store/scripts/", root)).filter((f) => f.endsWith(".lua"));
    expect(scripts.length).to.be.greaterThan(0);
    for (const f of scripts) expect(doc, f).to.include(`(../shared/store/scripts/${f})`);
  });

  it("the document's names table spells every name as shared/store/names.ts builds it", () => {
    const spelled = [
      ofJob(n.jobKey(id)),
      ofJob(n.resultKey(id)),
      ofJob(n.payloadKey(id)),
      spell(n.leasesKey(5), 5),
      spell(n.queuedKey(5), 5),
      spell(n.recentJobsKey(5), 5),
      spell(n.controlChannel(5), 5),
      ofJob(n.jobEventsChannel(id)),
      n.jobTypesKey,
      n.jobTypeWorkersKey("<name>"),
      n.jobTypesChangedChannel,
      n.jobsExchange,
      n.jobsQueue,
      n.retryQueue(0).replace("0ms", "<tier>ms"),
      n.deadLetterExchange,
      n.deadLetterQueue,
    ];
    for (const name of spelled) expect(doc, name).to.include(`| \`${name}\``);
    expect(doc).to.include(`routing key \`${n.jobsRoutingKey}\``);
    for (const tier of retryTiersMs) expect(doc, `retry tier ${tier}`).to.include(String(tier));
    expect(doc, "the shard rule").to.include(`zlib.crc32(<id> as UTF-8) % ${shardCount}`);
    expect(doc, "where the tags are").to.include("(../shared/store/scripts/shards.json)");
  });

  it("the Python worker builds the same names and retry tiers", () => {
    // Ids of every shard (and non-ASCII ones): the shard function must agree byte for byte.
    const ids = [...Array.from({ length: 64 }, (_, i) => `job-${i}`), "0190a3c4-0000-7000-8000-000000000000", "jöb-ü"];
    const script = [
      "import json, sys",
      "from pathlib import Path",
      "sys.path.insert(0, 'examples/python-worker')",
      "from herald_worker.names import Names, RETRY_TIERS_MS, load_shard_tags",
      "n = Names('ns1', load_shard_tags(Path('shared/store/scripts')))",
      "ids = json.loads(sys.argv[1])",
      "print(json.dumps({'shards': [n.shard_of(i) for i in ids], 'job': [n.job(i) for i in ids],",
      "  'result': n.result('J'), 'payload': n.payload('J'), 'events': n.job_events('J'),",
      "  'leases': [n.leases(k) for k in n.shards], 'queued': [n.queued(k) for k in n.shards],",
      "  'control': [n.control_channel(k) for k in n.shards],",
      "  'room': n.job_room('J'), 'socketIo': n.socket_io_key, 'jobsQueue': n.jobs_queue,",
      "  'retry': n.retry_queue(5000), 'types': n.job_types, 'typeWorkers': n.job_type_workers('T'),",
      "  'typesChanged': n.job_types_changed, 'tiers': list(RETRY_TIERS_MS)}))",
    ].join("\n");
    const out = execFileSync(python, ["-B", "-c", script, JSON.stringify(ids)], { cwd: root, encoding: "utf8" });
    const ts = names("ns1");
    const got = JSON.parse(out) as { shards: number[] };
    expect(new Set(got.shards).size, "the ids reach every shard").to.equal(shardCount);
    expect(got).to.deep.equal({
      shards: ids.map((i) => ts.shardOf(i)),
      job: ids.map((i) => ts.jobKey(i)),
      result: ts.resultKey("J"),
      payload: ts.payloadKey("J"),
      events: ts.jobEventsChannel("J"),
      leases: ts.shards.map((k) => ts.leasesKey(k)),
      queued: ts.shards.map((k) => ts.queuedKey(k)),
      control: ts.shards.map((k) => ts.controlChannel(k)),
      room: ts.jobRoom("J"),
      socketIo: ts.socketIoKey,
      jobsQueue: ts.jobsQueue,
      retry: ts.retryQueue(5000),
      types: ts.jobTypesKey,
      typeWorkers: ts.jobTypeWorkersKey("T"),
      typesChanged: ts.jobTypesChangedChannel,
      tiers: [...retryTiersMs],
    });
  });
});
