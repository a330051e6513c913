// npm run soak: several hundred jobs through a real cluster (2 APIs behind nginx, 3 workers, a
// private AOF Redis) while workers are killed (SIGKILL) and stopped (SIGTERM) while they run jobs,
// APIs are killed, the RabbitMQ link is cut and Redis is killed, each followed by a restart. Prints
// what became of every accepted job and exits non-zero if any was lost, ran twice, ended wrong,
// or a process crashed (or a fault found nothing to hit).
// `npm run soak -- --clusters`: the same soak on a private Redis Cluster (3 masters, 3 replicas,
// AOF) and a private 3-node RabbitMQ cluster (quorum queues), Redis masters and RabbitMQ nodes
// killed (kill -9, then restarted) instead of the Redis kill and the link cut. Needs root (the
// RabbitMQ nodes run as user rabbitmq) and ports 27450-27499 (+10000) and 27550-27599.
//
//   SOAK_JOBS=300 SOAK_WORKERS=3 SOAK_APIS=2 SOAK_CONCURRENCY=8 SOAK_KILLS=5 SOAK_TERMS=5
//   SOAK_API_KILLS=2 SOAK_CUTS=3 SOAK_CUT_MS=1500 SOAK_REDIS_KILLS=2 SOAK_REDIS_DOWN_MS=1000
//   SOAK_FAIL_ATTEMPTS_RATIO=0.3 SOAK_GRACE_MS=500 SOAK_RATE=12 SOAK_DEADLINE_MS=60000 SOAK_SEED=42
//   SOAK_RABBIT_KILLS=3 (--clusters only)
//   SOAK_ECHO=1 npm run soak
// Unset ones have defaults (see README, Operations). Needs the local RabbitMQ, redis-server and nginx.
import { formatDetails, formatReport, runSoak, soakPassed } from "../test/helpers/soak.ts";

const raw = (name: string): string | undefined => {
  const value = process.env[name];
  return value === undefined || value === "" ? undefined : value;
};
const fail = (message: string): never => {
  console.error(message);
  process.exit(2);
};
const num = (name: string): number | undefined => {
  const value = raw(name);
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : fail(`${name} must be a non-negative integer (got "${value}")`);
};
const fraction = (name: string): number | undefined => {
  const value = raw(name);
  if (value === undefined) return undefined;
  const n = Number(value);
  return n >= 0 && n <= 1 ? n : fail(`${name} must be a number from 0 to 1 (got "${value}")`);
};

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== "--clusters");
if (unknown.length > 0) fail(`unknown argument(s): ${unknown.join(" ")} (only --clusters)`);

const report = await runSoak({
  clusters: args.includes("--clusters"),
  rabbitKills: num("SOAK_RABBIT_KILLS"),
  jobs: num("SOAK_JOBS") ?? 300,
  apis: num("SOAK_APIS"),
  workers: num("SOAK_WORKERS"),
  concurrency: num("SOAK_CONCURRENCY"),
  kills: num("SOAK_KILLS"),
  terms: num("SOAK_TERMS"),
  apiKills: num("SOAK_API_KILLS"),
  cuts: num("SOAK_CUTS"),
  cutMs: num("SOAK_CUT_MS"),
  redisKills: num("SOAK_REDIS_KILLS"),
  redisDownMs: num("SOAK_REDIS_DOWN_MS"),
  failAttemptsRatio: fraction("SOAK_FAIL_ATTEMPTS_RATIO"),
  workerGraceMs: num("SOAK_GRACE_MS"),
  ratePerSecond: num("SOAK_RATE"),
  deadlineMs: num("SOAK_DEADLINE_MS"),
  seed: num("SOAK_SEED"),
  echo: process.env.SOAK_ECHO === "1",
  onProgress: (line) => console.error(`soak: ${line}`),
});
console.log(formatReport(report));
const details = formatDetails(report);
if (details) console.log(`\n${details}`);
const ok = soakPassed(report);
console.log(ok ? "\nPASS: nothing lost, duplicated or wrong; no process crashed" : "\nFAIL");
process.exit(ok ? 0 : 1);
