import type { EdgeFunction } from "edgefn";

export default {
  fetch(_request, _env, ctx) {
    return Response.json({ function: "inference", tier: "best-effort", needs: "gpu", site: ctx.site });
  },
} satisfies EdgeFunction;
