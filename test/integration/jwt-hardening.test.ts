// Issue 7 item 13: Bearer JWTs must carry `exp`, and only the algorithms of JWT_ALGORITHMS are
// accepted (default HS256 with JWT_SECRET, RS256 and ES256 with JWT_JWKS_URL). Real API, real
// JWKS server over HTTP.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { bearer, postJob } from "../helpers/http.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const secret = "issue-7-item-13-secret-that-is-long-enough";
const demo = { type: "demo", payload: { steps: 1, stepMs: 0 } };

interface SignOptions {
  alg: string;
  kid?: string;
  exp?: boolean;
}

function sign(key: CryptoKey | Uint8Array, { alg, kid, exp = true }: SignOptions): Promise<string> {
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
    .setSubject("erin")
    .setIssuedAt();
  if (exp) jwt = jwt.setExpirationTime("5m");
  return jwt.sign(key);
}

const submitWith = async (stack: Stack, jwt: string): Promise<number> =>
  (await postJob(stack.baseUrl, demo, bearer(jwt))).status;

describe("issue 7 item 13: JWTs need exp and a pinned algorithm", function () {
  this.timeout(60_000);
  const key = new TextEncoder().encode(secret);

  describe("JWT_SECRET, default JWT_ALGORITHMS (HS256)", () => {
    let stack: Stack | undefined;
    before(async () => {
      stack = await startStack({ workers: 0, env: { JWT_SECRET: secret } });
    });
    after(() => stack?.close());

    it("accepts an HS256 token with exp", async () => {
      if (!stack) throw new Error("setup failed");
      expect(await submitWith(stack, await sign(key, { alg: "HS256" }))).to.equal(202);
    });

    it("refuses a token without exp: 401", async () => {
      if (!stack) throw new Error("setup failed");
      expect(await submitWith(stack, await sign(key, { alg: "HS256", exp: false }))).to.equal(401);
    });

    it("refuses HS384 and HS512 tokens signed with the right secret: 401", async () => {
      if (!stack) throw new Error("setup failed");
      expect(await submitWith(stack, await sign(key, { alg: "HS384" }))).to.equal(401);
      expect(await submitWith(stack, await sign(key, { alg: "HS512" }))).to.equal(401);
    });
  });

  describe("JWT_SECRET with JWT_ALGORITHMS=HS384", () => {
    let stack: Stack | undefined;
    before(async () => {
      stack = await startStack({ workers: 0, env: { JWT_SECRET: secret, JWT_ALGORITHMS: "HS384" } });
    });
    after(() => stack?.close());

    it("accepts HS384 and refuses HS256", async () => {
      if (!stack) throw new Error("setup failed");
      expect(await submitWith(stack, await sign(key, { alg: "HS384" }))).to.equal(202);
      expect(await submitWith(stack, await sign(key, { alg: "HS256" }))).to.equal(401);
    });
  });

  describe("JWT_JWKS_URL", () => {
    let jwks: Server | undefined;
    let jwksUrl = "";
    const keys: Record<string, CryptoKey> = {};
    const stacks: Stack[] = [];

    before(async () => {
      const published: JWK[] = [];
      for (const [kid, alg] of [
        ["es256", "ES256"],
        ["rs256", "RS256"],
        ["es384", "ES384"],
      ] as const) {
        const pair = await generateKeyPair(alg, { extractable: true });
        keys[kid] = pair.privateKey;
        published.push({ ...(await exportJWK(pair.publicKey)), kid, alg, use: "sig" });
      }
      const server = createServer((_, res) => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ keys: published }));
      });
      jwks = server;
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    });
    after(async () => {
      for (const s of stacks) await s.close();
      jwks?.close();
    });

    const signed = (kid: string, alg: string, exp = true): Promise<string> => {
      const k = keys[kid];
      if (!k) throw new Error(`no key ${kid}`);
      return sign(k, { alg, kid, exp });
    };

    it("by default accepts RS256 and ES256 with exp, and refuses ES384 and tokens without exp", async () => {
      const stack = await startStack({ workers: 0, env: { JWT_JWKS_URL: jwksUrl } });
      stacks.push(stack);
      expect(await submitWith(stack, await signed("es256", "ES256"))).to.equal(202);
      expect(await submitWith(stack, await signed("rs256", "RS256"))).to.equal(202);
      expect(await submitWith(stack, await signed("es384", "ES384"))).to.equal(401);
      expect(await submitWith(stack, await signed("es256", "ES256", false))).to.equal(401);
    });

    it("JWT_ALGORITHMS=ES384 accepts only ES384", async () => {
      const stack = await startStack({ workers: 0, env: { JWT_JWKS_URL: jwksUrl, JWT_ALGORITHMS: "ES384" } });
      stacks.push(stack);
      expect(await submitWith(stack, await signed("es384", "ES384"))).to.equal(202);
      expect(await submitWith(stack, await signed("es256", "ES256"))).to.equal(401);
      expect(await submitWith(stack, await signed("rs256", "RS256"))).to.equal(401);
    });
  });
});
