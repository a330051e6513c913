import { registry } from "../handlers.ts";
import { csvSummaryHandler } from "./csv-summary.ts";
import { demoHandler } from "./demo.ts";

/** The handlers `npm start` runs: one per entry of shared/job-types.ts's builtinJobTypes. */
export const builtinHandlers = registry([demoHandler, csvSummaryHandler]);
