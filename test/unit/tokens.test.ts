// shared/store/tokens.ts: random tokens, stored only as hashes, compared in constant time.
import { createHash } from "node:crypto";
import { expect } from "chai";
import { hashToken, newToken, tokenMatches } from "../../shared/store/tokens.ts";

describe("unit: tokens", () => {
  it("newToken gives 256-bit base64url tokens that never repeat", () => {
    const tokens = Array.from({ length: 1000 }, () => newToken());
    for (const t of tokens) {
      expect(t).to.match(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(t, "base64url")).to.have.length(32);
    }
    expect(new Set(tokens).size).to.equal(tokens.length);
  });

  it("hashToken is a deterministic SHA-256 that does not contain the token", () => {
    const t = newToken();
    const h = hashToken(t);
    expect(h).to.equal(hashToken(t));
    expect(h).to.equal(createHash("sha256").update(t).digest("base64url"));
    expect(h).to.not.include(t);
    expect(hashToken(newToken())).to.not.equal(h);
  });

  it("tokenMatches accepts exactly the token whose hash is stored", () => {
    const t = newToken();
    const h = hashToken(t);
    expect(tokenMatches(t, h)).to.equal(true);
    expect(tokenMatches(newToken(), h)).to.equal(false);
    expect(tokenMatches(`${t}x`, h)).to.equal(false);
    expect(tokenMatches(t.slice(0, -1), h)).to.equal(false);
    expect(tokenMatches("", h)).to.equal(false);
    expect(tokenMatches(h, h), "the hash itself is not a token").to.equal(false);
  });

  it("tokenMatches does not throw on a stored hash of another length", () => {
    const t = newToken();
    expect(tokenMatches(t, "")).to.equal(false);
    expect(tokenMatches(t, "short")).to.equal(false);
    expect(tokenMatches(t, `${hashToken(t)}extra`)).to.equal(false);
  });
});
