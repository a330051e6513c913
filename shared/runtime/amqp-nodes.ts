// AMQP_URL as a list of RabbitMQ nodes, and the queue type that follows from it.
//
//   AMQP_URL=amqp://u:p@mq1:5672/prod,amqp://mq2:5672,amqp://mq3:5672
//
// The first entry is complete; a later entry without `user:password@` takes the first entry's
// credentials, one without a vhost (no path, or just "/") the first's vhost, and one without a
// query the first's query (heartbeat, frame_max, ...). So the settings of one cluster are written
// once, and a node that really differs can still say everything itself.

export type QueueType = "quorum" | "classic";

/** Splits and completes an AMQP_URL list; throws a TypeError naming the bad entry. */
export function parseAmqpUrls(raw: string): readonly string[] {
  const entries = raw.split(",").map((e) => e.trim());
  if (entries.some((e) => e === "")) throw new TypeError("an empty entry (stray comma?)");
  const urls = entries.map((entry) => {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new TypeError(`"${entry}" is not a URL`);
    }
    if (url.protocol !== "amqp:" && url.protocol !== "amqps:") {
      throw new TypeError(`"${entry}" is not an amqp:// or amqps:// URL`);
    }
    if (!url.hostname) throw new TypeError(`"${entry}" names no host`);
    return url;
  });
  const [first, ...rest] = urls;
  if (!first) throw new TypeError("no node");
  const completed = rest.map((url) => {
    if (!url.username && !url.password) {
      url.username = first.username;
      url.password = first.password;
    }
    if (url.pathname === "" || url.pathname === "/") url.pathname = first.pathname;
    if (url.search === "") url.search = first.search;
    return url.href;
  });
  return Object.freeze([first.href, ...completed]);
}

/** QUEUE_TYPE's default: quorum queues need a cluster (on a single RabbitMQ 3.10 node a quorum
 * queue did not recover from kill -9 here), classic ones are what one node runs best. */
export function defaultQueueType(urls: readonly string[]): QueueType {
  return urls.length > 1 ? "quorum" : "classic";
}
