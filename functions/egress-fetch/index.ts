import type { EdgeFunction } from "edgefn";

interface Env {
  /** URL to fetch; its host:port must be in `spec.egress` (default deny). */
  UPSTREAM?: string;
}

const DEFAULT_UPSTREAM = "http://127.0.0.1:8787/hello/via-egress";
const UPSTREAM_TIMEOUT_MS = 5_000;

export default {
  async fetch(_request, env, ctx) {
    const upstream = env.UPSTREAM ?? DEFAULT_UPSTREAM;
    const started = Date.now();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), UPSTREAM_TIMEOUT_MS);
    try {
      const res = await fetch(upstream, {
        headers: { accept: "*/*", "x-request-id": ctx.requestId },
        signal: abort.signal,
      });
      const body = new Uint8Array(await res.arrayBuffer());
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
      return Response.json({
        upstream,
        status: res.status,
        contentType: res.headers.get("content-type"),
        bytes: body.byteLength,
        sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""),
        elapsedMs: Date.now() - started,
        site: ctx.site,
      });
    } catch (err) {
      // A host missing from spec.egress is refused here too: say which, so the fix is obvious.
      const reason = err instanceof Error ? err.message : String(err);
      console.warn(`egress-fetch: ${upstream} failed: ${reason}`);
      return Response.json({ upstream, error: reason }, { status: 502 });
    } finally {
      clearTimeout(timer);
    }
  },
} satisfies EdgeFunction<Env>;
