// The job type registry in Redis. Layout (a contract with workers in other languages, README.md#job-types):
//   HSET    <ns>:job-types <name> <definition JSON with announcedAt>   last announcement wins
//   ZADD    <ns>:job-types:<name>:workers <expiresAtMs> <workerId>     refreshed while the worker runs
//   PUBLISH <ns>:job-types:changed <name>                              when a definition changed
// Readers cache a type for `cacheMs`; a change message (or a resubscription, after which messages
// may have been missed) drops the cache at once, and the short TTL covers a message lost anyway.
import type { Logger } from "../observability/log.ts";
import type { Names } from "../store/names.ts";
import { type RedisClient, redisCall } from "../store/redis-job-store.ts";
import {
  type JobTypeAnnouncer,
  type JobTypeDefinition,
  type JobTypeRegistry,
  type RegisteredJobType,
  StoredJobType,
  sameDefinition,
} from "./job-type-registry.ts";

export interface RedisJobTypeRegistryOptions {
  redis: RedisClient;
  names: Names;
  log: Logger;
  /** How long a read type is used before it is read again. 0 = always read. */
  cacheMs?: number;
  /** A dedicated subscriber connection (it may serve other channels too): hears of changed types. */
  subscriber?: RedisClient;
}

export class RedisJobTypeRegistry implements JobTypeRegistry, JobTypeAnnouncer {
  private readonly cache = new Map<string, { at: number; value: RegisteredJobType | null }>();
  private readonly cacheMs: number;
  /** Grows with every change message (and resubscription): a read that began before one is not
   * cached, since it may predate the change. */
  private generation = 0;
  // A string (no buffer mode); the Buffer in the type is what a cluster client's UNSUBSCRIBE asks for.
  private readonly onChanged = (name: string | Buffer) => {
    this.generation++;
    this.cache.delete(String(name));
  };
  private readonly onReady = () => {
    this.generation++;
    this.cache.clear();
  };
  private subscribed: Promise<void> | null = null;
  /** The read of each type under way, and the generation it began in. */
  private readonly reading = new Map<string, { generation: number; value: Promise<RegisteredJobType | null> }>();

  constructor(private readonly o: RedisJobTypeRegistryOptions) {
    this.cacheMs = o.cacheMs ?? 1_000;
  }

  /** Subscribes to change messages (if given a subscriber). A failure is logged: the cache TTL
   * still bounds how long a changed type is served stale. */
  async listen(): Promise<void> {
    const sub = this.o.subscriber;
    if (!sub || this.subscribed) return;
    sub.on("ready", this.onReady);
    this.subscribed = sub.subscribe(this.o.names.jobTypesChangedChannel, this.onChanged).catch((err: unknown) => {
      this.o.log.warn("job type changes not subscribed; relying on the cache TTL", { error: String(err) });
    });
    await this.subscribed;
  }

  async close(): Promise<void> {
    const sub = this.o.subscriber;
    if (!sub || !this.subscribed) return;
    sub.off("ready", this.onReady);
    if (sub.isReady) {
      await sub
        .unsubscribe(this.o.names.jobTypesChangedChannel, this.onChanged)
        .catch((err: unknown) => this.o.log.warn("job type changes not unsubscribed", { error: String(err) }));
    }
    this.subscribed = null;
  }

  async get(name: string): Promise<RegisteredJobType | null> {
    const hit = this.cache.get(name);
    if (hit && Date.now() - hit.at < this.cacheMs) return hit.value;
    const generation = this.generation;
    if (this.cacheMs === 0) return this.read(name, generation); // always read: a fresh read each
    // One read per type at a time: when the cache lapses under load, every submit in flight would
    // otherwise send its own MULTI (and node-redis builds a costly object per MULTI). Joining one is
    // no staler than the cache; a read that began before a change message is not joined (nor cached).
    const pending = this.reading.get(name);
    if (pending && pending.generation === generation) return pending.value;
    const value = this.read(name, generation);
    const entry = { generation, value };
    this.reading.set(name, entry);
    try {
      return await value;
    } finally {
      if (this.reading.get(name) === entry) this.reading.delete(name);
    }
  }

  private async read(name: string, generation: number): Promise<RegisteredJobType | null> {
    const { redis, names } = this.o;
    const [raw, live] = await redisCall(redis, () =>
      redis.multi().hGet(names.jobTypesKey, name).zCount(names.jobTypeWorkersKey(name), Date.now(), "+inf").exec(),
    );
    const definition = this.parse(name, raw);
    const value = definition ? { definition, liveWorkers: Number(live) } : null;
    if (this.cacheMs > 0 && generation === this.generation) this.cache.set(name, { at: Date.now(), value });
    return value;
  }

  async list(): Promise<RegisteredJobType[]> {
    const { redis, names } = this.o;
    const all = await redisCall(redis, () => redis.hGetAll(names.jobTypesKey));
    const defs = Object.entries(all)
      .map(([name, raw]) => this.parse(name, raw))
      .filter((d) => d !== null)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    if (defs.length === 0) return [];
    const now = Date.now();
    const counts = await redisCall(redis, () => {
      const m = redis.multi();
      for (const d of defs) m.zCount(names.jobTypeWorkersKey(d.name), now, "+inf");
      return m.exec();
    });
    return defs.map((definition, i) => ({ definition, liveWorkers: Number(counts[i]) }));
  }

  define(definitions: readonly JobTypeDefinition[]): Promise<void> {
    return this.write(definitions, null, 0);
  }

  announce(definitions: readonly JobTypeDefinition[], workerId: string, ttlMs: number): Promise<void> {
    return this.write(definitions, workerId, ttlMs);
  }

  async refresh(definitions: readonly JobTypeDefinition[], workerId: string, ttlMs: number): Promise<void> {
    if (definitions.length === 0) return;
    const stored = await this.stored(definitions);
    const now = Date.now();
    const m = this.o.redis.multi();
    definitions.forEach((d, i) => {
      if (!stored[i]) {
        m.hSet(this.o.names.jobTypesKey, d.name, JSON.stringify({ ...d, announcedAt: now }));
        m.publish(this.o.names.jobTypesChangedChannel, d.name);
      }
      this.enter(m, d.name, workerId, now, ttlMs);
    });
    await m.exec();
  }

  async withdraw(names: readonly string[], workerId: string): Promise<void> {
    if (names.length === 0) return;
    const m = this.o.redis.multi();
    for (const name of names) m.zRem(this.o.names.jobTypeWorkersKey(name), workerId);
    await m.exec();
  }

  /** Writes every definition (announcedAt now), and the worker's entries if given; publishes the
   * names whose definition is new or differs from the stored one. */
  private async write(definitions: readonly JobTypeDefinition[], workerId: string | null, ttlMs: number) {
    if (definitions.length === 0) return;
    const stored = await this.stored(definitions);
    const now = Date.now();
    const m = this.o.redis.multi();
    for (const d of definitions) {
      m.hSet(this.o.names.jobTypesKey, d.name, JSON.stringify({ ...d, announcedAt: now }));
      if (workerId !== null) this.enter(m, d.name, workerId, now, ttlMs);
    }
    definitions.forEach((d, i) => {
      const before = stored[i];
      if (!before || !sameDefinition(before, d)) m.publish(this.o.names.jobTypesChangedChannel, d.name);
    });
    await m.exec();
  }

  /** This worker's entry under a type, and expired entries gone. */
  private enter(m: ReturnType<RedisClient["multi"]>, name: string, workerId: string, now: number, ttlMs: number) {
    const key = this.o.names.jobTypeWorkersKey(name);
    m.zRemRangeByScore(key, "-inf", now);
    m.zAdd(key, { score: now + ttlMs, value: workerId });
  }

  private async stored(definitions: readonly JobTypeDefinition[]): Promise<(StoredJobType | null)[]> {
    if (definitions.length === 0) return [];
    const raws = await this.o.redis.hmGet(
      this.o.names.jobTypesKey,
      definitions.map((d) => d.name),
    );
    return definitions.map((d, i) => this.parse(d.name, raws[i] ?? null));
  }

  /** A stored definition, or null if there is none or it is not one (logged: a worker wrote junk). */
  private parse(name: string, raw: unknown): StoredJobType | null {
    if (typeof raw !== "string") return null;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      json = undefined;
    }
    const parsed = StoredJobType.safeParse(json);
    if (parsed.success && parsed.data.name === name) return parsed.data;
    this.o.log.warn("ignoring an invalid job type announcement", {
      type: name,
      error: parsed.success ? "its name differs from its field" : parsed.error.message,
    });
    return null;
  }
}
