// Realtime across scaled-out instances on the shared brokers: two API processes and two worker
// processes behind nginx, real socket.io-clients, SSE readers and long polls. The tests are
// test/contracts/scale-out.ts, which test/faults/clusters.test.ts runs on a Redis Cluster and a
// RabbitMQ cluster.
import { scaleOutContract } from "../contracts/scale-out.ts";
import { type Cluster, startCluster } from "../helpers/cluster.ts";

describe("e2e: realtime across 2 APIs + 2 workers behind nginx", function () {
  this.timeout(60_000);
  let cluster: Cluster;

  before(async function () {
    this.timeout(90_000);
    // Four tsx processes starting at once took over 20 s on a loaded 2-core machine.
    cluster = await startCluster({ apis: 2, workers: 2 });
  });
  after(async () => {
    await cluster?.stop();
  });

  scaleOutContract(() => cluster);
});
