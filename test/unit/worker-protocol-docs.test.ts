// docs/worker-protocol.md and the Python worker spell Herald's names and scripts for other languages:
// they must follow the code. A changed key, channel, queue or retry tier in shared/ fails here until
// the document and examples/python-worker/herald_worker/names.py say the same.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { expect } from "chai";
import { retryTiersMs } from "../../shared/queue/queue-topology.ts";
import { names } from "../../shared/store/names.ts";

const root = new URL("../../", import.meta.url);
const doc = readFileSync(new URL("docs/worker-protocol.md", root), "utf8");
const python = process.env.PYTHON ?? "/usr/bin/python3";

describe("unit: the worker protocol document and the Python worker follow the code", () => {
  const n = names("<ns>");
  const id = "<id>";

  it("the document links every Lua script of the store", () => {
    const scripts = readdirSync(new URL("shared/store/scripts/", root)).filter((f) => f.endsWith(".lua"));
    expect(scripts.length).to.be.greaterThan(0);
    for (const f of scripts) expect(doc, f).to.include(`(../shared/store/scripts/${f})`);
  });

  it("the document's names table spells every name as shared/store/names.ts builds it", () => {
    const spelled = [
      n.jobKey(id),
      n.resultKey(id),
      n.payloadKey(id),
      n.leasesKey,
      n.queuedKey,
      n.controlChannel,
      n.jobEventsChannel(id),
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
  });

  it("the Python worker builds the same names and retry tiers", () => {
    const script = [
      "import json, sys",
      "sys.path.insert(0, 'examples/python-worker')",
      "from herald_worker.names import Names, RETRY_TIERS_MS",
      "n = Names('ns1')",
      "print(json.dumps({'job': n.job('J'), 'result': n.result('J'), 'payload': n.payload('J'),",
      "  'events': n.job_events('J'), 'leases': n.leases, 'queued': n.queued, 'control': n.control_channel,",
      "  'room': n.job_room('J'), 'socketIo': n.socket_io_key, 'jobsQueue': n.jobs_queue,",
      "  'retry': n.retry_queue(5000), 'types': n.job_types, 'typeWorkers': n.job_type_workers('T'),",
      "  'typesChanged': n.job_types_changed, 'tiers': list(RETRY_TIERS_MS)}))",
    ].join("\n");
    const out = execFileSync(python, ["-B", "-c", script], { cwd: root, encoding: "utf8" });
    const ts = names("ns1");
    expect(JSON.parse(out)).to.deep.equal({
      job: ts.jobKey("J"),
      result: ts.resultKey("J"),
      payload: ts.payloadKey("J"),
      events: ts.jobEventsChannel("J"),
      leases: ts.leasesKey,
      queued: ts.queuedKey,
      control: ts.controlChannel,
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
