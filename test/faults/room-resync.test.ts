// A Socket.IO room whose subscription was disturbed is caught up (services/api/room-resync.ts).
// One API instance whose adapter subscriber alone goes through a TCP proxy (the store, the adapter's
// publisher and the shared Redis stay reachable): the link is cut while a socket follows a job, a
// change is committed meanwhile (its event reaches nobody on this instance), and once node-redis has
// put the subscription back the socket must still get that change, then the next, each version
// once. The Redis Cluster master kill in clusters.test.ts is the same fault on a cluster.
import { expect } from "chai";
import { type ApiServer, startApiServer } from "../../services/api/server.ts";
import type { ClientSocket } from "../../shared/client/socket-channel.ts";
import { announcedTransition } from "../../shared/events/announced-transition.ts";
import { jobEventMessage, SocketIoJobEvents } from "../../shared/events/socketio-job-events.ts";
import { toView } from "../../shared/jobs/job-view.ts";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { RabbitJobQueue } from "../../shared/queue/rabbit-job-queue.ts";
import { loadConfig } from "../../shared/runtime/config.ts";
import { names } from "../../shared/store/names.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import { type RedisClient, RedisJobStore } from "../../shared/store/redis-job-store.ts";
import { pollUntil } from "../helpers/net.ts";
import { connectSocket, subscribed } from "../helpers/realtime.ts";
import { AMQP_URL, log, REDIS_URL, randomNamespace, removeNamespace } from "../helpers/stack.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.ts";

describe("faults: a Socket.IO room caught up after its Redis subscription was disturbed", function () {
  this.timeout(60_000);
  const n = names(randomNamespace("resync"));
  let link: TcpProxy;
  let queue: RabbitJobQueue;
  let api: ApiServer;
  let store: RedisClient;
  let adapterSub: RedisClient;
  const clients: RedisClient[] = [];
  const sockets: ClientSocket[] = [];

  before(async () => {
    const redisPort = Number(new URL(REDIS_URL).port || 6379);
    link = await startTcpProxy({ port: redisPort });
    const at = async (url: string, role: string) => {
      const c = await connectRedis(
        url,
        log,
        5_000,
        role,
        undefined,
        role === "adapter-sub" ? "subscriber" : "commands",
      );
      clients.push(c);
      return c;
    };
    const [s, changesSub, adapterPub, sub] = await Promise.all([
      at(REDIS_URL, "store"),
      at(REDIS_URL, "changes"),
      at(REDIS_URL, "adapter-pub"),
      at(`redis://127.0.0.1:${link.port}`, "adapter-sub"),
    ]);
    store = s;
    adapterSub = sub;
    queue = await RabbitJobQueue.connect({
      url: AMQP_URL,
      names: n,
      log,
      connectTimeoutMs: 5_000,
      publishTimeoutMs: 2_000,
    });
    const config = loadConfig({
      HOST: "127.0.0.1",
      PORT: "0",
      HERALD_NAMESPACE: n.namespace,
      INSTANCE_ID: "room-resync-test",
      RATE_LIMIT_READ_PER_MINUTE: "0",
    });
    api = await startApiServer(config, { redis: store, changesSub, adapterPub, adapterSub, queue }, log);
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    api?.server.closeAllConnections();
    await api?.close();
    await queue?.close();
    if (store) await removeNamespace(n, store);
    for (const c of clients) c.destroy();
    await link?.close();
  });

  const jobs = () => new RedisJobStore(store, n, 3600);
  const events = () => new SocketIoJobEvents(store, n, log);

  /** A job in the store, followed by a socket on the API: what the socket receives. */
  async function followed(): Promise<{ id: string; seen: JobView[] }> {
    const { record, token } = newJob("demo");
    await jobs().create(record);
    const socket = await connectSocket(`http://127.0.0.1:${api.port}`);
    sockets.push(socket);
    const seen: JobView[] = [];
    socket.on("job", (view: JobView) => {
      if (view.id === record.id) seen.push(view);
    });
    const reply = await socket.timeout(5_000).emitWithAck("subscribe", { jobId: record.id, token });
    expect(reply.ok, JSON.stringify(reply)).to.equal(true);
    await subscribed(store, n.jobEventsChannel(record.id));
    return { id: record.id, seen };
  }

  const progress = (id: string, percent: number) =>
    announcedTransition(jobs(), events(), id, () => ({ progress: { percent } }));
  const versionArrives = (seen: JobView[], version: number, what: string) =>
    pollUntil(() => seen.some((v) => v.version === version), { timeoutMs: 30_000, what });

  it("a change committed while the room's subscription was cut reaches the socket once the link is back, then the next; each version once", async () => {
    const { id, seen } = await followed();
    await link.cut();
    await pollUntil(() => !adapterSub.isReady, { timeoutMs: 10_000, what: "the adapter subscriber cut off" });
    // Nobody on this instance hears this one: its subscription is gone with the connection.
    expect((await progress(id, 40))?.version).to.equal(2);
    expect(await store.pubSubShardNumSub(n.jobEventsChannel(id))).to.deep.equal({ [n.jobEventsChannel(id)]: 0 });

    link.resume();
    await versionArrives(seen, 2, "the change committed while cut, caught up");
    expect(seen[0]?.progress.percent).to.equal(40);
    await progress(id, 60);
    await versionArrives(seen, 3, "the next change, through the subscription");
    expect(seen.map((v) => v.version)).to.deep.equal([2, 3]);
  });

  it("an event that arrives twice (or after a catch-up delivered it) reaches the socket once", async () => {
    const { id, seen } = await followed();
    const record = await jobs().get(id);
    if (!record) throw new Error("no record");
    const again = jobEventMessage(n, toView({ ...record, version: 2, progress: { percent: 30 } }));
    await store.sPublish(n.jobEventsChannel(id), again);
    await store.sPublish(n.jobEventsChannel(id), again);
    await store.sPublish(
      n.jobEventsChannel(id),
      jobEventMessage(n, toView({ ...record, version: 3, progress: { percent: 50 } })),
    );
    await versionArrives(seen, 3, "the version after the repeated one");
    expect(seen.map((v) => v.version)).to.deep.equal([2, 3]);
  });
});
