// `herald api` and `herald worker`: the same entry points as `npm run start:api` / `start:worker`,
// imported into this process (same environment, same signal handling, same exit codes).
import { parse } from "./options.ts";

export async function serviceCommand(service: "api" | "worker", args: string[]): Promise<null> {
  parse(args, {}); // no options yet: anything given is a usage error
  if (service === "api") await import("../../services/api/main.ts");
  else await import("../../services/worker/main.ts");
  return null; // the service runs until a signal; its own handlers exit the process
}
