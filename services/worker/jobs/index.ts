import { registry } from "../../../shared/worker/handlers.ts";
import { csvSummaryHandler } from "./csv-summary.ts";
import { demoHandler } from "./demo.ts";

/** The handlers the bundled worker runs (and announces in the job type registry). */
export const builtinHandlers = registry([demoHandler, csvSummaryHandler]);
