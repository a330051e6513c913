// Who is calling: a submitter credential (an API key from API_KEYS, or a JWT verified against
// JWT_SECRET or JWT_JWKS_URL) names a subject. The subject owns the jobs it submits and may read
// them all with the same credential. With no credential configured, submitting is open.
// A JWT must use one of JWT_ALGORITHMS (pinned: never whatever its header asks for) and carry
// `exp`, so no token is valid for ever.
import { createHash, timingSafeEqual } from "node:crypto";
import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { Config } from "../../shared/runtime/config.ts";

export interface Credentials {
  /** True when submitting requires a credential. */
  readonly required: boolean;
  /** The subject a secret (API key or JWT) proves, or null. */
  subjectOf(secret: string): Promise<string | null>;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest();
const looksLikeJwt = (s: string) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(s);

export function createCredentials(apiKeys: Config["apiKeys"], jwt: Config["jwt"]): Credentials {
  const keys = [...apiKeys].map(([key, subject]) => ({ hash: sha256(key), subject }));
  const verifyKey: Uint8Array | JWTVerifyGetKey | null = jwt.secret
    ? new TextEncoder().encode(jwt.secret)
    : jwt.jwksUrl
      ? createRemoteJWKSet(new URL(jwt.jwksUrl))
      : null;
  const options = {
    algorithms: [...jwt.algorithms],
    requiredClaims: ["exp"],
    ...(jwt.issuer ? { issuer: jwt.issuer } : {}),
    ...(jwt.audience ? { audience: jwt.audience } : {}),
  };

  return {
    required: keys.length > 0 || verifyKey !== null,
    async subjectOf(secret) {
      if (secret.length > 8192) return null;
      if (verifyKey && looksLikeJwt(secret)) {
        try {
          const { payload } =
            typeof verifyKey === "function"
              ? await jwtVerify(secret, verifyKey, options)
              : await jwtVerify(secret, verifyKey, options);
          return typeof payload.sub === "string" && payload.sub !== "" ? payload.sub : null;
        } catch {
          return null;
        }
      }
      // Compare hashes in constant time, against every key (no early exit on a match).
      const presented = sha256(secret);
      let subject: string | null = null;
      for (const k of keys) if (timingSafeEqual(k.hash, presented)) subject = k.subject;
      return subject;
    },
  };
}
