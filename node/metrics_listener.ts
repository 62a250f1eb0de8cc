/**
 * The scrape listener (`fedagg run --metrics HOST:PORT`, off by default): a second HTTP listener
 * for a central Prometheus, without a token, that serves `GET /metrics` and nothing else — only
 * the metric families marked `open` (`metric_catalog.ts`), never one derived from a private
 * update. Every other path is 404, every other method on `/metrics` 405. It runs on the same
 * strict HTTP/1.1 server as the API (`http_server.ts`), with a small connection cap.
 *
 * @module
 */
import { type HttpRefusalCode, serveHttp } from "./http_server.ts";
import type { Exposure } from "./metrics.ts";

/** What the listener serves from. */
export interface MetricsSource {
  /** The Prometheus text of the families of `exposure`. */
  renderMetrics(exposure?: Exposure): string;
}

/** A running scrape listener. */
export interface MetricsListener {
  /** `http://host:port` (the metrics are at `/metrics`). */
  readonly url: string;
  /** Stops it; resolves once its connections are closed. */
  shutdown(): Promise<void>;
}

/** The content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The status of each refusal the transport makes itself. */
const REFUSAL_STATUS: Record<HttpRefusalCode, number> = {
  "too-many-connections": 503,
  "timeout": 408,
  "header-too-large": 431,
  "length-required": 411,
  "bad-request": 400,
  "internal": 500,
};

function plain(status: number, text: string, headers: HeadersInit = {}): Response {
  return new Response(text + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/**
 * Serves the open metrics of `source` on `hostname:port` (0 picks a free port). Throws when the
 * address cannot be bound (as `Deno.listen` does).
 */
export function serveMetrics(
  source: MetricsSource,
  options: { readonly hostname: string; readonly port: number },
): MetricsListener {
  const handler = (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (url.pathname !== "/metrics") {
      return Promise.resolve(plain(404, "only /metrics is served here"));
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return Promise.resolve(plain(405, "use GET", { allow: "GET, HEAD" }));
    }
    const body = req.method === "HEAD" ? null : source.renderMetrics("open");
    return Promise.resolve(
      new Response(body, { headers: { "content-type": METRICS_CONTENT_TYPE } }),
    );
  };
  const server = serveHttp(handler, {
    hostname: options.hostname,
    port: options.port,
    limits: { maxConnections: 16 },
    refusal: (code, message) => plain(REFUSAL_STATUS[code], `${code}: ${message}`),
  });
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  return { url: `http://${host}:${server.port}`, shutdown: () => server.shutdown() };
}
