// OpenTelemetry: a W3C trace context follows a job from `POST /jobs` through the AMQP message's
// headers into the worker's attempt span. Spans are made only in a process that exports them: to
// an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, read by the
// OTLP exporter itself), or to the exporter a test hands in. Elsewhere a span is the context it
// continues, so a client's traceparent still travels to the worker, and costs nothing (a recorded
// span per request was ~5 % of the API's CPU, with its garbage).
import {
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-node";

export { type Span, SpanKind, SpanStatusCode };

export interface Tracing {
  /** Flushes and stops exporting; unregisters the global provider. Safe to call twice. */
  shutdown(): Promise<void>;
}

/** Registers the process's tracer provider (once per process). `exporter` (tests) replaces OTLP. */
export function setupTracing(
  serviceName: string,
  opts: { exporter?: SpanExporter; env?: NodeJS.ProcessEnv } = {},
): Tracing {
  const env = opts.env ?? process.env;
  const spanProcessors: SpanProcessor[] = [];
  if (opts.exporter) spanProcessors.push(new SimpleSpanProcessor(opts.exporter));
  else if (otlpConfigured(env)) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  exporting = spanProcessors.length > 0;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || serviceName }),
    spanProcessors,
  });
  provider.register(); // AsyncLocalStorage context manager + W3C trace context propagator
  let done: Promise<void> | null = null;
  return {
    shutdown: () => {
      exporting = false;
      done ??= provider.shutdown().finally(() => {
        trace.disable();
        context.disable();
        propagation.disable();
      });
      return done;
    },
  };
}

function otlpConfigured(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_TRACES_EXPORTER === "none" || env.OTEL_SDK_DISABLED === "true") return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** Whether this process exports spans (setupTracing found an exporter). */
let exporting = false;

/** Continues the context without recording: what a span is where nothing would export it. */
const passThrough: Pick<Tracer, "startSpan"> = {
  startSpan: (_name, _options, ctx = context.active()) =>
    trace.wrapSpanContext(trace.getSpanContext(ctx) ?? INVALID_SPAN_CONTEXT),
};

export const tracer = (): Pick<Tracer, "startSpan"> => (exporting ? trace.getTracer("herald") : passThrough);

const headerGetter = {
  keys: (carrier: Readonly<Record<string, unknown>>) => Object.keys(carrier),
  get: (carrier: Readonly<Record<string, unknown>>, key: string) => {
    const v = carrier[key];
    return typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("utf8") : undefined;
  },
};

/** The trace context carried by `headers` (HTTP or AMQP), or the root context itself when they carry none. */
export function extractContext(headers: Readonly<Record<string, unknown>> | undefined): Context {
  // Most requests carry none of the propagator's fields: then the propagators have nothing to read.
  if (!headers || !propagation.fields().some((field) => headers[field] !== undefined)) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, headers, headerGetter);
}

/** Runs `fn` with `span` (started under `parent`) active. Where nothing exports spans and `parent`
 * carried nothing in (no traceparent, no baggage), the span is the invalid one and there is nothing
 * to hand on: `fn` runs as it is, without entering the context manager's AsyncLocalStorage (which
 * otherwise costs every promise of the request a propagation hook). */
export function withSpan<T>(parent: Context, span: Span, fn: () => T): T {
  if (!exporting && parent === ROOT_CONTEXT) return fn();
  return context.with(trace.setSpan(parent, span), fn);
}

/** AMQP headers for a message published now: the request id it is published for, and the active
 * trace context. */
export function messageHeaders(requestId: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  // The root context carries no span and no baggage: the propagators would write nothing.
  const active = context.active();
  if (active !== ROOT_CONTEXT) propagation.inject(active, headers);
  if (requestId) headers["x-request-id"] = requestId;
  return headers;
}

/** Ends `span` as failed if `err` is set. */
export function endSpan(span: Span, err?: unknown): void {
  if (err !== undefined) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}
