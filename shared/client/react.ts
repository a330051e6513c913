// React binding of the client library: useHeraldJob(job) follows a job and re-renders with its
// latest state. A separate entry point (not re-exported by index.ts) so that /client.js and users
// without React never load React; React is an optional peer dependency.
import { createContext, createElement, type ReactNode, useContext, useEffect, useState } from "react";
import type { JobStatus, JobView } from "../jobs/schemas.ts";
import type { HeraldClient } from "./herald-client.ts";
import type { ChannelName, JobRef } from "./types.ts";

/** The client the hooks below use unless given one. */
export const HeraldContext = createContext<HeraldClient | null>(null);

export function HeraldProvider(props: { client: HeraldClient; children?: ReactNode }): ReactNode {
  return createElement(HeraldContext.Provider, { value: props.client }, props.children);
}

export interface HeraldJobState {
  /** Undefined until the first representation arrives. */
  status: JobStatus | undefined;
  progress: JobView["progress"] | undefined;
  /** The result, once the job succeeded and it was fetched (see JobWatch.result()). */
  result: unknown;
  /** JobFailedError (failed or canceled: its `problem` says why), JobAccessError, or what else
   * ended the watch. */
  error: Error | undefined;
  /** The channel in use (socket, sse or polling). */
  channel: ChannelName | undefined;
  /** The latest representation (highest version). */
  job: JobView | undefined;
}

const idle: HeraldJobState = Object.freeze({
  status: undefined,
  progress: undefined,
  result: undefined,
  error: undefined,
  channel: undefined,
  job: undefined,
});

/**
 * Follows `job` (e.g. what `client.submit` returned; null or undefined: nothing to follow) with
 * the client of the nearest <HeraldProvider>, or `opts.client`. The watch is closed when the
 * component unmounts and when `job` becomes another job (another id or token).
 */
export function useHeraldJob(job: JobRef | null | undefined, opts: { client?: HeraldClient } = {}): HeraldJobState {
  const fromContext = useContext(HeraldContext);
  const client = opts.client ?? fromContext;
  const id = job?.id ?? "";
  const token = job?.token ?? "";
  const key = id && `${id}\n${token}`;
  // State is tagged with the job it belongs to, so a render for a new job never shows the old one's.
  const [state, setState] = useState<{ key: string; value: HeraldJobState }>({ key: "", value: idle });

  useEffect(() => {
    if (!key) return;
    let live = true;
    const update = (change: Partial<HeraldJobState>) => {
      if (!live) return;
      setState((s) => ({ key, value: { ...(s.key === key ? s.value : idle), ...change } }));
    };
    if (!client) {
      update({ error: new Error("useHeraldJob needs a HeraldClient: <HeraldProvider client={…}> or { client }") });
      return;
    }
    let watch: ReturnType<HeraldClient["watch"]> | undefined;
    watch = client.watch(
      { id, token },
      {
        onUpdate: (view) =>
          update({ job: view, status: view.status, progress: view.progress, channel: watch?.channel }),
      },
    );
    watch.result().then(
      (result) => update({ result, channel: watch?.channel }),
      (err: unknown) => update({ error: err instanceof Error ? err : new Error(String(err)) }),
    );
    return () => {
      live = false;
      watch?.close();
    };
  }, [client, key, id, token]);

  return state.key === key ? state.value : idle;
}
