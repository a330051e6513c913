// A lean HTTP/1.1 JSON client on node:http with keep-alive, so the bench times the server rather
// than a heavier client stack (fetch adds its own per-request overhead).
import { Agent, request } from "node:http";

export interface JsonReply {
  status: number;
  body: unknown;
}

export class JsonClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });

  constructor(private readonly baseUrl: string) {}

  post(path: string, body: unknown): Promise<JsonReply> {
    const payload = Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.baseUrl),
        {
          method: "POST",
          agent: this.agent,
          headers: { "content-type": "application/json", "content-length": String(payload.length) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            try {
              resolve({ status: res.statusCode ?? 0, body: text === "" ? null : JSON.parse(text) });
            } catch (err) {
              reject(new Error(`HTTP ${res.statusCode}: not JSON: ${String(err)}`));
            }
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
