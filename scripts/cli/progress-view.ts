// How a watched job's progress is shown on stderr (stdout keeps the result alone): in a terminal
// a bar redrawn in place (cli-progress), elsewhere one plain line per change.
import cliProgress from "cli-progress";
import { isTerminal, type JobView } from "../../shared/jobs/schemas.ts";

export interface ProgressView {
  update(job: JobView): void;
  /** Leaves the last state on screen and ends the line. Idempotent. */
  stop(): void;
}

export function progressView(stream: NodeJS.WriteStream = process.stderr): ProgressView {
  return stream.isTTY ? barView(stream) : lineView(stream);
}

/** What the job is doing, in words: its own message, else what its state says. */
export function describe(job: JobView): string {
  if (job.cancelRequested && job.status === "running") return "cancel requested";
  if (job.stalled) return "stalled: its worker stopped renewing the lease";
  if (job.status === "queued" && job.retryAt) {
    return `retry at ${job.retryAt.slice(11, 19)} (attempt ${job.attempts} failed: ${job.error?.detail ?? "?"})`;
  }
  return job.progress.message ?? job.status;
}

/** "4s", "2m05s", "1h02m"; "-" when the job gave no ETA or has ended. */
export function formatEta(job: JobView): string {
  const seconds = job.progress.etaSeconds;
  if (seconds === undefined || isTerminal(job.status)) return "-";
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function barView(stream: NodeJS.WriteStream): ProgressView {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: "{jobType} [{bar}] {percentage}% | ETA {jobEta} | {message}",
      barsize: 30,
      hideCursor: true,
      // The job's own ETA (from its handler) beats one extrapolated from the bar's rate.
      etaBuffer: 1,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let stopped = false;
  return {
    update(job) {
      const fields = { jobType: job.type, jobEta: formatEta(job), message: describe(job) };
      if (!started) {
        bar.start(100, job.progress.percent, fields);
        started = true;
      } else bar.update(job.progress.percent, fields);
    },
    stop() {
      if (stopped || !started) return;
      stopped = true;
      bar.stop();
    },
  };
}

function lineView(stream: NodeJS.WriteStream): ProgressView {
  let last = "";
  return {
    update(job) {
      const line = `${job.status} ${job.progress.percent}% ETA ${formatEta(job)} ${describe(job)}`;
      if (line !== last) stream.write(`${line}\n`);
      last = line;
    },
    stop() {},
  };
}
