import type { EdgeFunction } from "edgefn";

export default {
  fetch(request, _env, ctx) {
    return Response.json({ function: "alarm", tier: "critical", method: request.method, site: ctx.site });
  },
} satisfies EdgeFunction;
