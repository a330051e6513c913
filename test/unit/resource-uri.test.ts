// Issue 7 item 14: what a handler's resource(uri) may name, and how it is encoded before it becomes
// a Location header.
import { expect } from "chai";
import { InvalidResourceError, normalizeResourceUri } from "../../shared/jobs/resource-uri.ts";
import { ConfigError, loadConfig } from "../../shared/runtime/config.ts";

const allowed = ["https://files.example.com", "http://127.0.0.1:8080"];
const ok = (uri: string) => normalizeResourceUri(uri, allowed);
const refused = (uri: string, why: RegExp) => {
  expect(() => ok(uri), JSON.stringify(uri))
    .to.throw(InvalidResourceError)
    .with.property("message")
    .that.matches(why);
};

describe("issue 7 item 14: normalizeResourceUri", () => {
  it("keeps relative paths and allowed absolute URIs as they are when already encoded", () => {
    expect(ok("/widgets/42")).to.equal("/widgets/42");
    expect(ok("/widgets/42?view=full&x=%20y#top")).to.equal("/widgets/42?view=full&x=%20y#top");
    expect(ok("/")).to.equal("/");
    expect(ok("https://files.example.com/reports/7.csv")).to.equal("https://files.example.com/reports/7.csv");
    expect(ok("http://127.0.0.1:8080/a?b=c")).to.equal("http://127.0.0.1:8080/a?b=c");
  });

  it("percent-encodes non-ASCII and spaces, so the result is a valid header value", () => {
    expect(ok("/widgets/ünïcode")).to.equal("/widgets/%C3%BCn%C3%AFcode");
    expect(ok("/files/日本/a b")).to.equal("/files/%E6%97%A5%E6%9C%AC/a%20b");
    expect(ok("/q?name=Zoë")).to.equal("/q?name=Zo%C3%AB");
    expect(ok("/emoji#😀")).to.equal("/emoji#%F0%9F%98%80");
    expect(ok("https://files.example.com/č")).to.equal("https://files.example.com/%C4%8D");
    for (const uri of ["/widgets/ünïcode", "/files/日本/a b", "https://files.example.com/č"]) {
      expect(ok(uri)).to.match(/^[\x21-\x7e]+$/);
    }
  });

  it("compares origins after normalising case and default ports", () => {
    expect(ok("HTTPS://FILES.example.com:443/x")).to.equal("https://files.example.com/x");
    expect(normalizeResourceUri("https://a.example/x", ["https://A.example:443/"])).to.equal("https://a.example/x");
  });

  it("refuses control characters (CR/LF header injection, NUL, tab, DEL, C1)", () => {
    for (const uri of [
      "/ok\r\nSet-Cookie: a=b",
      "/ok\nx",
      "/ok\rx",
      "/a\u0000b",
      "/a\tb",
      "/a\u007fb",
      "/a\u0085b",
      "https://files.example.com/a\r\n",
    ]) {
      refused(uri, /control character/);
    }
  });

  it("refuses absolute URIs to other origins, and URIs with credentials", () => {
    refused("https://evil.example/phish", /origin .* is not in RESOURCE_ORIGINS/);
    refused("http://files.example.com/x", /not in RESOURCE_ORIGINS/); // scheme is part of the origin
    refused("https://files.example.com:8443/x", /not in RESOURCE_ORIGINS/);
    refused("https://files.example.com.evil.example/x", /not in RESOURCE_ORIGINS/);
    refused("https://files.example.com@evil.example/x", /credentials/);
    refused("https://user:pw@files.example.com/x", /credentials/);
    expect(() => normalizeResourceUri("https://files.example.com/x", [])).to.throw(InvalidResourceError);
  });

  it("refuses protocol-relative and backslash tricks that browsers read as another host", () => {
    refused("//evil.example/x", /single "\/"/);
    refused("/\\evil.example/x", /single "\/"/);
    refused("/\\/evil.example", /single "\/"/);
  });

  it("refuses other schemes and paths that are not absolute", () => {
    refused("javascript:alert(1)", /relative path .*or an absolute http/);
    refused("data:text/html,<script>", /relative path .*or an absolute http/);
    refused("ftp://files.example.com/x", /relative path .*or an absolute http/);
    refused("widgets/42", /relative path .*or an absolute http/);
    refused("?x=1", /relative path .*or an absolute http/);
    refused("", /empty/);
    refused(" /widgets", /relative path .*or an absolute http/);
    refused("https://", /not a valid URL/);
  });

  it("refuses URIs too long for a header", () => {
    expect(ok(`/${"a".repeat(2000)}`)).to.have.length(2001);
    refused(`/${"a".repeat(5000)}`, /longer than/);
    refused(`/${"é".repeat(1000)}`, /longer than/); // 6 000 characters once encoded
  });
});

describe("issue 7 item 14: RESOURCE_ORIGINS", () => {
  it("is empty by default and holds normalised origins", () => {
    expect(loadConfig({}).resourceOrigins).to.deep.equal([]);
    expect(
      loadConfig({ RESOURCE_ORIGINS: " https://Files.Example.com:443 , http://127.0.0.1:8080/" }).resourceOrigins,
    ).to.deep.equal(["https://files.example.com", "http://127.0.0.1:8080"]);
  });

  it("refuses entries that are not bare http(s) origins", () => {
    for (const bad of [
      "*",
      "files.example.com",
      "ftp://files.example.com",
      "https://a.example/path",
      "https://u:p@a.example",
      "https://a.example?x",
    ]) {
      expect(() => loadConfig({ RESOURCE_ORIGINS: bad }), bad).to.throw(ConfigError, /RESOURCE_ORIGINS/);
    }
  });
});
