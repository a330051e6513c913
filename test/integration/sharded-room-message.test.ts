// Pins shared/events/sharded-room-message.ts (and Names.jobEventsChannel) to the installed
// @socket.io/redis-adapter: a real Socket.IO server with the real sharded adapter ("dynamic" mode)
// on real Redis, a real socket.io-client in a job's room. Bytes from our encoder, SPUBLISHed by a
// plain client on our channel name, arrive as the exact `job` event; the adapter subscribes exactly
// that channel, and only while the room exists; and what the adapter itself sends for an emit to
// the room is what we encode (but for its uid), and what our decoder reads.
import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { expect } from "chai";
import { Server } from "socket.io";
import { type Socket as ClientSocket, io as connectClient } from "socket.io-client";
import { decodeRoomBroadcast } from "../../shared/events/sharded-room-message.ts";
import { jobEventMessage } from "../../shared/events/socketio-job-events.ts";
import { toView } from "../../shared/jobs/job-view.ts";
import type { JobView } from "../../shared/jobs/schemas.ts";
import { names } from "../../shared/store/names.ts";
import { newJob } from "../../shared/store/new-job.ts";
import { connectRedis } from "../../shared/store/redis-connect.ts";
import type { RedisClient } from "../../shared/store/redis-job-store.ts";
import { pollUntil } from "../helpers/net.ts";
import { log, REDIS_URL, randomNamespace } from "../helpers/stack.ts";

describe("integration: the job event format and channel, pinned to the installed sharded Socket.IO adapter", () => {
  const n = names(randomNamespace("sharded-room"));
  let http: HttpServer;
  let io: Server;
  let pub: RedisClient;
  let sub: RedisClient;
  let plain: RedisClient;
  let client: ClientSocket;
  const job = newJob("demo").record;
  const room = n.jobRoom(job.id);
  const channel = n.jobEventsChannel(job.id);
  const view: JobView = toView({ ...job, version: 2, status: "running", progress: { percent: 42, message: "ü €" } });

  const shardChannels = async (): Promise<string[]> =>
    (await plain.pubSubShardChannels(`${n.socketIoKey}*`)).map(String).sort();

  before(async () => {
    [pub, sub, plain] = await Promise.all([
      connectRedis(REDIS_URL, log, 5_000, "pub"),
      connectRedis(REDIS_URL, log, 5_000, "sub", undefined, "subscriber"),
      connectRedis(REDIS_URL, log, 5_000, "plain"),
    ]);
    http = createServer();
    io = new Server(http, {
      adapter: createShardedAdapter(pub, sub, { channelPrefix: n.socketIoKey, subscriptionMode: "dynamic" }),
    });
    io.on("connection", (socket) => {
      socket.on("join", async (ack: () => void) => {
        await socket.join(room);
        ack();
      });
      socket.on("leave", async (ack: () => void) => {
        await socket.leave(room);
        ack();
      });
    });
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    client = connectClient(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, { transports: ["websocket"] });
    await new Promise<void>((resolve) => client.once("connect", () => resolve()));
  });
  after(async () => {
    client?.close();
    await new Promise<void>((resolve) => io?.close(() => resolve()));
    await Promise.all([pub?.close(), sub?.close(), plain?.close()]);
  });

  it("the adapter subscribes the room's channel, as Names.jobEventsChannel spells it, only while the room exists", async () => {
    const before = await shardChannels();
    expect(before).to.not.include(channel);
    await client.emitWithAck("join");
    await pollUntil(async () => (await shardChannels()).includes(channel) || undefined, {
      timeoutMs: 5_000,
      what: "the room's channel subscribed",
    });
    // The namespace's own channels and the room's: nothing else.
    expect((await shardChannels()).filter((c) => !before.includes(c))).to.deep.equal([channel]);
  });

  it("our encoder's bytes, SPUBLISHed by a plain client, arrive as the exact `job` event", async () => {
    const got = new Promise<unknown[]>((resolve) => client.once("job", (...args: unknown[]) => resolve(args)));
    expect(await plain.sPublish(channel, jobEventMessage(n, view))).to.equal(1);
    expect(await got).to.deep.equal([view]);
  });

  it("what the adapter sends for an emit to the room is what we encode, but for its uid, and what we decode", async () => {
    const heard = new Promise<Buffer>((resolve) => {
      void plain
        .duplicate()
        .connect()
        .then((listener) => {
          void listener.sSubscribe(
            channel,
            (m) => {
              resolve(m);
              void listener.close();
            },
            true,
          );
        });
    });
    await pollUntil(async () => ((await plain.pubSubShardNumSub(channel))[channel] ?? 0) >= 2 || undefined, {
      timeoutMs: 5_000,
      what: "the listener subscribed",
    });
    io.to(room).emit("job", view);
    const sent = await heard;
    const theirs = JSON.parse(sent.toString()) as { uid: string };
    const ours = JSON.parse(jobEventMessage(n, view).toString()) as { uid: string };
    expect(theirs.uid).to.be.a("string").and.not.equal(ours.uid);
    expect({ ...theirs, uid: "" }).to.deep.equal({ ...ours, uid: "" });
    expect(decodeRoomBroadcast(sent)).to.deep.equal({ rooms: [room], event: "job", args: [view] });
  });

  it("once the room is empty, the adapter unsubscribes its channel", async () => {
    await client.emitWithAck("leave");
    await pollUntil(async () => !(await shardChannels()).includes(channel) || undefined, {
      timeoutMs: 5_000,
      what: "the room's channel unsubscribed",
    });
    expect(await plain.sPublish(channel, jobEventMessage(n, view))).to.equal(0);
  });
});
