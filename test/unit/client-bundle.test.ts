// Issue 11 (client): the browser build is small. /client.js is fetched from the API's own route
// (built on first request with the API's esbuild settings), gzipped as a server would send it, and
// must be at most 20 KB with socket.io-client included; the schema library (zod) and React must
// not be in it. A build with the same settings and a metafile says where any bytes come from.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { expect } from "chai";
import { build, type Metafile } from "esbuild";
import Koa from "koa";
import { clientBuildOptions, clientRoutes } from "../../services/api/client-routes.ts";

const limitBytes = 20 * 1024;

describe("issue 11 client: the /client.js browser build is small", function () {
  this.timeout(30_000);
  let server: Server | undefined;
  let served = "";
  let inputs: string[] = [];

  before(async () => {
    const app = new Koa();
    app.use(clientRoutes().routes());
    server = createServer(app.callback());
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/client.js`);
    expect(res.status).to.equal(200);
    served = await res.text();
    const result = await build({ ...clientBuildOptions, metafile: true });
    inputs = Object.keys((result.metafile as Metafile).inputs);
  });
  after(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  it("is a real bundle: the client classes and socket.io-client are in it", () => {
    expect(served).to.include("HeraldClient");
    expect(inputs.some((i) => i.includes("node_modules/socket.io-client/"))).to.equal(true);
    expect(inputs.some((i) => i.includes("node_modules/engine.io-client/"))).to.equal(true);
  });

  it("is at most 20 KB gzipped, socket.io-client included", () => {
    const gzipped = gzipSync(served).length;
    expect(gzipped, `${served.length} bytes minified, ${gzipped} gzipped`).to.be.at.most(limitBytes);
  });

  it("holds no zod (nor shared/jobs/schemas.ts, which builds zod schemas) and no React", () => {
    expect(inputs.filter((i) => /node_modules\/(zod|react|react-dom)\//.test(i))).to.deep.equal([]);
    expect(inputs.filter((i) => i.endsWith("shared/jobs/schemas.ts"))).to.deep.equal([]);
    expect(served).to.not.match(/\$Zod|ZodError/);
  });
});
