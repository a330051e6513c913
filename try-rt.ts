import { startRabbitCluster } from "./test/helpers/rabbit-cluster.ts";
import { RabbitJobQueue } from "./shared/queue/rabbit-job-queue.ts";
import { names } from "./shared/store/names.ts";
import { log } from "./test/helpers/stack.ts";
const mq = await startRabbitCluster();
console.log("startup", mq.startupMs);
const [n1, , n3] = mq.nodes as any;
try {
  const n = names("rt" + Date.now());
  const d = await RabbitJobQueue.connect({ url: n3.url, names: n, log, connectTimeoutMs: 10000, publishTimeoutMs: 5000, queueType: "quorum" });
  await d.close();
  const q = await RabbitJobQueue.connect({ url: mq.urls, names: n, log, connectTimeoutMs: 10000, publishTimeoutMs: 5000, queueType: "quorum" });
  const got: string[] = [];
  await q.consume(async (dl) => { got.push(JSON.parse(dl.body.toString()).jobId); dl.ack(); }, 4);
  const pub = async (tag: string) => { const id = crypto.randomUUID(); await q.publish({ v: 1, jobId: id, type: tag, payload: {} }, { delayMs: 300 }); return id; };
  const before = await pub("before");
  await new Promise((r) => setTimeout(r, 1500));
  console.log("before kill arrived:", got.includes(before));
  const inflight = await pub("inflight");
  await mq.kill(n3);
  const after: string[] = [];
  for (let i = 0; i < 5; i++) { try { after.push(await pub("after")); } catch (e) { console.log("publish after failed", String(e)); } await new Promise((r) => setTimeout(r, 500)); }
  await new Promise((r) => setTimeout(r, 15000));
  console.log("inflight arrived:", got.includes(inflight), "after arrived:", after.filter((a) => got.includes(a)).length, "/", after.length);
  const rows = JSON.parse(await mq.ctl(["list_queues", "name", "leader", "online", "messages", "messages_ready", "messages_unacknowledged", "--formatter", "json"]));
  console.log(rows.filter((r: any) => r.name.startsWith(n.namespace)).map((r: any) => JSON.stringify(r)).join("\n"));
  await q.close();
} finally { await mq.stop(); }
