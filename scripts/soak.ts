// npm run soak: several hundred jobs through a real cluster (2 APIs behind nginx, 3 workers) while
// workers are SIGKILLed and restarted and the RabbitMQ link is cut; prints what became of every
// accepted job and exits non-zero if any was lost, ran twice, or got a wrong result.
//
//   SOAK_JOBS=300 SOAK_WORKERS=3 SOAK_APIS=2 SOAK_CONCURRENCY=8 SOAK_KILLS=5 SOAK_CUTS=3
//   SOAK_CUT_MS=1500 SOAK_RATE=12 SOAK_DEADLINE_MS=60000 SOAK_SEED=42 SOAK_ECHO=1 npm run soak
// Unset ones have defaults (kills ≈ jobs/60, cuts ≈ jobs/100, rate spreads the jobs over the chaos).
// Needs the local RabbitMQ and Redis (AMQP_URL, REDIS_URL) and nginx, like the e2e tests.
import { formatReport, runSoak, soakPassed } from "../test/helpers/soak.ts";

const num = (name: string): number | undefined => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`${name} must be a non-negative integer (got "${raw}")`);
    process.exit(2);
  }
  return n;
};

const report = await runSoak({
  jobs: num("SOAK_JOBS") ?? 300,
  apis: num("SOAK_APIS"),
  workers: num("SOAK_WORKERS"),
  concurrency: num("SOAK_CONCURRENCY"),
  kills: num("SOAK_KILLS"),
  cuts: num("SOAK_CUTS"),
  cutMs: num("SOAK_CUT_MS"),
  ratePerSecond: num("SOAK_RATE"),
  deadlineMs: num("SOAK_DEADLINE_MS"),
  seed: num("SOAK_SEED"),
  echo: process.env.SOAK_ECHO === "1",
  onProgress: (line) => console.error(`soak: ${line}`),
});
console.log(formatReport(report));
for (const [what, ids] of Object.entries(report.details)) {
  if (ids.length > 0) console.log(`${what}: ${ids.slice(0, 20).join(" ")}${ids.length > 20 ? " …" : ""}`);
}
const ok = soakPassed(report);
console.log(ok ? "PASS: nothing lost, nothing duplicated" : "FAIL");
process.exit(ok ? 0 : 1);
