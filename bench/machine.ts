// What the numbers were measured on, and the pids of the shared brokers (by the port they serve).
import { arch, availableParallelism, cpus, loadavg, platform, totalmem } from "node:os";
import amqp from "amqplib";
import { createClient } from "redis";
import { AMQP_URL, REDIS_URL } from "./brokers.ts";
import type { MachineInfo } from "./report.ts";
import { pidListeningOn, type Watched } from "./usage.ts";

export async function machineInfo(mode: "full" | "quick"): Promise<MachineInfo> {
  return {
    startedAt: new Date().toISOString(),
    node: process.version,
    platform: `${platform()} ${arch()}`,
    cores: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
    memoryGb: Math.round(totalmem() / 2 ** 30),
    load: loadavg().slice(0, 2),
    redis: await redisVersion(),
    rabbitmq: await rabbitVersion(),
    mode,
  };
}

async function redisVersion(): Promise<string> {
  const redis = createClient({ url: REDIS_URL });
  redis.on("error", () => {});
  await redis.connect();
  try {
    return /redis_version:(\S+)/.exec(await redis.info("server"))?.[1] ?? "unknown";
  } finally {
    await redis.close();
  }
}

async function rabbitVersion(): Promise<string> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    return String(conn.connection.serverProperties.version);
  } finally {
    await conn.close();
  }
}

/** The RabbitMQ (beam.smp) and Redis (redis-server) processes behind AMQP_URL and REDIS_URL. */
export function brokerProcesses(): Watched[] {
  const out: Watched[] = [];
  const rabbit = pidListeningOn(Number(new URL(AMQP_URL).port || 5672));
  const redis = pidListeningOn(Number(new URL(REDIS_URL).port || 6379));
  if (rabbit !== null) out.push({ name: "rabbitmq", pid: rabbit });
  if (redis !== null) out.push({ name: "redis", pid: redis });
  return out;
}
