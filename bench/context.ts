// What the numbers were measured on: one line in the report, an object in the JSON.
import { arch, availableParallelism, cpus, loadavg, platform } from "node:os";
import { connectAmqp, connectBenchRedis } from "./raw.ts";

export interface MachineContext {
  readonly startedAt: string;
  readonly node: string;
  readonly platform: string;
  readonly cores: number;
  readonly cpu: string;
  /** 1- and 5-minute load averages when the run started: other work on the machine skews results. */
  readonly load: readonly [number, number];
  readonly redis: string;
  readonly rabbitmq: string;
}

export async function machineContext(): Promise<MachineContext> {
  const [one = 0, five = 0] = loadavg();
  return {
    startedAt: new Date().toISOString(),
    node: process.version,
    platform: `${platform()} ${arch()}`,
    cores: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
    load: [one, five],
    redis: await redisVersion(),
    rabbitmq: await rabbitVersion(),
  };
}

async function redisVersion(): Promise<string> {
  const redis = await connectBenchRedis();
  try {
    return /redis_version:(\S+)/.exec(await redis.info("server"))?.[1] ?? "unknown";
  } finally {
    await redis.close();
  }
}

async function rabbitVersion(): Promise<string> {
  const model = await connectAmqp();
  try {
    return model.connection.serverProperties.version;
  } finally {
    await model.close();
  }
}

export function describe(c: MachineContext): string {
  const load = c.load.map((l) => l.toFixed(2)).join("/");
  return `node ${c.node} · ${c.platform} · ${c.cores} cores (${c.cpu}) · load ${load} · redis ${c.redis} · rabbitmq ${c.rabbitmq}`;
}
