// Herald's client library, for browsers (served by the API at /client.js) and Node.
export {
  HeraldClient,
  type HeraldClientOptions,
  HeraldRequestError,
  type JobWatch,
  type WatchOptions,
} from "./herald-client.ts";
export type { SocketChannelOptions } from "./socket-channel.ts";
export { type ChannelName, JobAccessError, JobFailedError, type JobRef } from "./types.ts";
