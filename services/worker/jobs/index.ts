import { registry } from "../../../shared/worker/handlers.ts";
import { csvSummaryHandler } from "./csv-summary.ts";
import { demoHandler } from "./demo.ts";

/** The handlers `npm start` runs: one per entry of shared/jobs/job-types.ts's builtinJobTypes. */
export const builtinHandlers = registry([demoHandler, csvSummaryHandler]);
