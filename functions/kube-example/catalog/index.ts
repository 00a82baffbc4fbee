import type { EdgeFunction } from "edgefn";

export default {
  fetch(_request, _env, ctx) {
    return Response.json({ function: "catalog", tier: "normal", items: ["bolt", "nut"], site: ctx.site });
  },
} satisfies EdgeFunction;
