// Which RabbitMQ node each Herald process is linked to, read from the processes themselves (their
// sockets in /proc, their "connected to RabbitMQ" log lines): while a cluster member hangs,
// rabbitmqctl cannot reach the cluster.
import type { ServiceProcess } from "./cluster.ts";
import { connectionsTo } from "./proc-sockets.ts";

/** Open connections of each process (by id) to each AMQP port (by port). */
export function processConnections(
  processes: readonly ServiceProcess[],
  ports: readonly number[],
): Record<string, Record<number, number>> {
  return Object.fromEntries(
    processes.map((p) => {
      const pid = p.process.pid ?? 0;
      return [p.id, Object.fromEntries(ports.map((port) => [port, connectionsTo(port, [pid]).get(pid)?.length ?? 0]))];
    }),
  );
}

/** The "connected to RabbitMQ" log lines of a process (it logs one once a connection's setup is
 * done: ready to publish and consume), as the AMQP port of each. */
export function connectedPorts(p: ServiceProcess): number[] {
  const ports: number[] = [];
  for (const line of p.output().split("\n")) {
    if (!line.includes('"msg":"connected to RabbitMQ"')) continue;
    const url = (JSON.parse(line) as { url?: string }).url ?? "";
    ports.push(Number(new URL(url.replace("***", "x")).port));
  }
  return ports;
}

/** Every process connected again through a port other than `away`, and no socket of theirs left
 * open to it (a hung node never closes its end). */
export function allMovedOff(processes: readonly ServiceProcess[], ports: readonly number[], away: number): boolean {
  const open = processConnections(processes, ports);
  return processes.every((p) => {
    const last = connectedPorts(p).at(-1);
    return last !== undefined && last !== away && open[p.id]?.[away] === 0;
  });
}
