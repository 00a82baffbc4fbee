import type { EdgeFunction } from "edgefn";

interface Env {
  /** From `spec.env` in edgefn.yaml. */
  GREETING?: string;
}

export default {
  fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    console.log(`hello: ${request.method} ${pathname}`);
    return Response.json({
      message: `${env.GREETING ?? "Hello"} from ${ctx.site}!`,
      path: pathname,
      site: ctx.site,
      requestId: ctx.requestId,
    });
  },
} satisfies EdgeFunction<Env>;
