// Checks a submission's payload against its job type's announced JSON Schema (draft 2020-12) with
// ajv: formats checked, `default`s filled in (so a zod schema's defaults apply as they would in the
// worker), every error reported. Compiled once per (name, version) and kept for the type's current
// version only; a schema that changed without a new version is compiled again, not trusted stale.
import type { Ajv2020, ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import type { StoredJobType } from "../../shared/registry/job-type-registry.ts";

/** ajv and its formats, loaded at the first check rather than at start-up (a hundred modules an
 * API that is starting, perhaps beside others on a busy host, need not wait for). */
async function loadAjv(): Promise<Ajv2020> {
  const [{ Ajv2020: Ajv }, formats] = await Promise.all([import("ajv/dist/2020.js"), import("ajv-formats")]);
  // ajv-formats is CommonJS with `exports.default`: under NodeNext its default import is the module.
  const addFormats = formats.default as unknown as (ajv: Ajv2020) => Ajv2020;
  // strict off: schemas come from workers in any language, with any annotations.
  return addFormats(new Ajv({ strict: false, allErrors: true, useDefaults: true }));
}

/** One error of a payload, as the 422 `invalid-payload` problem lists it. */
export interface PayloadError {
  /** JSON Pointer into the payload ("" = the payload itself). */
  path: string;
  /** The schema keyword that failed (`type`, `minimum`, `required`, `additionalProperties`, ...). */
  keyword: string;
  message: string;
  params: Record<string, unknown>;
}

export type PayloadCheck =
  | { ok: true; payload: Record<string, unknown> }
  | { ok: false; errors: PayloadError[] }
  /** The announced schema is not one ajv can compile: the worker announced something broken. */
  | { ok: false; broken: string };

interface Compiled {
  version: string;
  /** The schema object it was compiled from: the registry hands out the same object until it reads
   * the type again (and never changes one in place), so the same object needs no comparison by content. */
  schema: Record<string, unknown>;
  schemaJson: string;
  validate: ValidateFunction | null;
  broken: string;
}

export class PayloadValidator {
  private ajv: Promise<Ajv2020> | null = null;
  private readonly compiled = new Map<string, Compiled>();

  /** Checks (a copy of) the payload; on success, the payload with defaults filled in. */
  async check(type: StoredJobType, payload: Record<string, unknown>): Promise<PayloadCheck> {
    this.ajv ??= loadAjv();
    const c = this.compile(await this.ajv, type);
    if (!c.validate) return { ok: false, broken: c.broken };
    const copy = copyJson(payload) as Record<string, unknown>;
    if (c.validate(copy)) return { ok: true, payload: copy };
    return { ok: false, errors: (c.validate.errors ?? []).map(toPayloadError) };
  }

  private compile(ajv: Ajv2020, type: StoredJobType): Compiled {
    const known = this.compiled.get(type.name);
    if (known && known.version === type.version && known.schema === type.payload) return known;
    const schemaJson = JSON.stringify(type.payload);
    if (known && known.version === type.version && known.schemaJson === schemaJson) {
      known.schema = type.payload;
      return known;
    }
    if (known?.validate) ajv.removeSchema(known.validate.schema as object);
    const { version } = type;
    let c: Compiled;
    try {
      // No $id: ajv would refuse a second schema with the same one (a new version, same $id). No
      // $schema: the contract says 2020-12, and ajv would refuse a dialect it has not loaded.
      const { $id: _, $schema: __, ...schema } = type.payload;
      c = { version, schema: type.payload, schemaJson, validate: ajv.compile(schema), broken: "" };
    } catch (err) {
      c = {
        version,
        schema: type.payload,
        schemaJson,
        validate: null,
        broken: err instanceof Error ? err.message : String(err),
      };
    }
    this.compiled.set(type.name, c);
    return c;
  }
}

/** A deep copy of a JSON value (what a parsed body holds). structuredClone's serialiser took
 * ~1.5 µs for a two-field payload, most of a check; this ~0.1 µs. Like it, it gives up with a
 * RangeError on a value nested deeper than the stack. */
function copyJson(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) return v.map(copyJson);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    // An own `__proto__` stays a field, as in the original; assigning it would set the prototype.
    if (k === "__proto__")
      Object.defineProperty(out, k, { value: copyJson(x), enumerable: true, writable: true, configurable: true });
    else out[k] = copyJson(x);
  }
  return out;
}

function toPayloadError(e: ErrorObject): PayloadError {
  return { path: e.instancePath, keyword: e.keyword, message: e.message ?? e.keyword, params: e.params };
}
