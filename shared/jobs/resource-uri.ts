// What a handler's `resource(uri)` may name. The URI becomes a Location header (303), so it must
// not lead a browser to another site (open redirect) nor break the response (CR/LF injection,
// characters outside Latin-1). Allowed: a path on this API's origin, or an absolute http(s) URI
// on an origin listed in RESOURCE_ORIGINS; either comes back percent-encoded (ASCII only).

export class InvalidResourceError extends Error {
  override readonly name = "InvalidResourceError";
}

/** Longest URI (once encoded) we put in a Location header; proxies' header buffers are small. */
const maxLength = 2048;
// Only a placeholder to resolve relative paths against; never leaves this module.
const placeholder = "http://relative.invalid";

/** `uri` in its encoded form if it is allowed; else throws InvalidResourceError saying why. */
export function normalizeResourceUri(uri: string, allowedOrigins: readonly string[]): string {
  if (uri === "") throw new InvalidResourceError("the resource URI is empty");
  if (hasControlChar(uri)) throw new InvalidResourceError("the resource URI contains a control character");
  const normalized = /^https?:\/\//i.test(uri) ? absolute(uri, allowedOrigins) : relative(uri);
  if (normalized.length > maxLength) {
    throw new InvalidResourceError(`the resource URI is longer than ${maxLength} characters once encoded`);
  }
  // The URL serializer emits ASCII only; a header must never get anything else.
  if (!/^[\x21-\x7e]+$/.test(normalized)) throw new InvalidResourceError("the resource URI cannot be encoded");
  return normalized;
}

/** C0 controls, DEL and C1 controls: the URL parser would drop some silently and keep others. */
function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

function relative(uri: string): string {
  if (!uri.startsWith("/")) {
    throw new InvalidResourceError(
      "a resource URI must be a relative path (starting with /) or an absolute http(s) URI",
    );
  }
  // "//host" and "/\host" (browsers read "\" as "/") name another host.
  if (uri[1] === "/" || uri[1] === "\\") {
    throw new InvalidResourceError('a relative resource path must start with a single "/"');
  }
  const url = new URL(uri, placeholder);
  if (url.origin !== placeholder) throw new InvalidResourceError("the resource path leaves this origin");
  return `${url.pathname}${url.search}${url.hash}`;
}

function absolute(uri: string, allowedOrigins: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new InvalidResourceError("the resource URI is not a valid URL");
  }
  if (url.username || url.password) throw new InvalidResourceError("the resource URI must not carry credentials");
  if (!allowedOrigins.some((o) => sameOrigin(o, url.origin))) {
    throw new InvalidResourceError(`the resource URI's origin ${url.origin} is not in RESOURCE_ORIGINS`);
  }
  return url.href;
}

function sameOrigin(allowed: string, origin: string): boolean {
  try {
    return new URL(allowed).origin === origin;
  } catch {
    return false;
  }
}
