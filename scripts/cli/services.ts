// `herald api` and `herald worker [--jobs <module>]`: the same entry points as `npm run start:api` /
// `start:worker`, imported into this process (same environment, same signal handling, same exit
// codes). With --jobs, the worker serves the module's job types instead of the bundled ones.
import { loadJobs } from "./load-jobs.ts";
import { parse, positionals } from "./options.ts";

export async function serviceCommand(service: "api" | "worker", args: string[]): Promise<null> {
  if (service === "api") {
    positionals(parse(args, {}).positionals, []);
    await import("../../services/api/main.ts");
    return null; // the service runs until a signal; its own handlers exit the process
  }
  const { values, positionals: extra } = parse(args, { jobs: { type: "string" } });
  positionals(extra, []);
  if (values.jobs === undefined) await import("../../services/worker/main.ts");
  else {
    const jobs = await loadJobs(values.jobs, process.cwd());
    await (await import("../../services/worker/run.ts")).runWorkerProcess(jobs);
  }
  return null;
}
