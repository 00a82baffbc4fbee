import type { EdgeFunction } from "edgefn";

export default {
  fetch(request, _env, ctx) {
    return Response.json({ function: "telemetry", tier: "low", method: request.method, site: ctx.site });
  },
} satisfies EdgeFunction;
