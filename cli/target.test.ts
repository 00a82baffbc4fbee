import { describe, expect, it } from "vitest";
import { renderError } from "./output.ts";
import { resolveTarget } from "./target.ts";

const TOKEN = "a".repeat(64);

describe("resolveTarget", () => {
  it.each([
    ["flags beat the environment", { site: "http://flag:1", token: "t-flag" }, { EDGEFN_SITE: "http://env:2", EDGEFN_TOKEN: "t-env" }, "http://flag:1", "t-flag", "--site", "--token"],
    ["the environment fills in what flags leave out", { token: "t-flag" }, { EDGEFN_SITE: "http://env:2", EDGEFN_TOKEN: "t-env" }, "http://env:2", "t-flag", "EDGEFN_SITE", "--token"],
    ["an empty flag counts as unset", { site: "", token: " " }, { EDGEFN_SITE: "http://env:2", EDGEFN_TOKEN: "t-env" }, "http://env:2", "t-env", "EDGEFN_SITE", "EDGEFN_TOKEN"],
    ["host:port means http://host:port", { site: "127.0.0.1:9081" }, { EDGEFN_TOKEN: TOKEN }, "http://127.0.0.1:9081", TOKEN, "--site", "EDGEFN_TOKEN"],
    ["trailing slashes go; a path prefix stays", { site: "https://edge.example/ctl/" }, { EDGEFN_TOKEN: TOKEN }, "https://edge.example/ctl", TOKEN, "--site", "EDGEFN_TOKEN"],
  ])("%s", (_name, flags, env, url, token, urlFrom, tokenFrom) => {
    expect(resolveTarget(flags, env)).toEqual({ url, token, from: { url: urlFrom, token: tokenFrom } });
  });

  it("without a site: says which flag and variable to set", () => {
    expect(() => resolveTarget({}, { EDGEFN_TOKEN: TOKEN })).toThrow(expect.objectContaining({ code: "ERR_NO_SITE" }));
    expect(render(() => resolveTarget({}, {}))).toMatchInlineSnapshot(`
      "error: No site given: edgefn does not know which site to talk to. [ERR_NO_SITE]
      hint: Pass --site http://<host>:<control-port>, or \`export EDGEFN_SITE=http://127.0.0.1:9080\`. \`edgefn site up <site-dir>\` prints both for a local site."
    `);
  });

  it("without a token: says where the site's token is", () => {
    expect(render(() => resolveTarget({ site: "127.0.0.1:9081" }, {}))).toMatchInlineSnapshot(`
      "error: No control token for http://127.0.0.1:9081. [ERR_NO_TOKEN]
      hint: The control API needs the site's token. Its token is in <site-dir>/control.token: \`export EDGEFN_TOKEN=$(cat <site-dir>/control.token)\`, or pass --token."
    `);
  });

  it("an empty EDGEFN_TOKEN (a failed $(cat ...)) is named as such", () => {
    expect(render(() => resolveTarget({ site: "127.0.0.1:9081" }, { EDGEFN_TOKEN: "" }))).toMatchInlineSnapshot(`
      "error: EDGEFN_TOKEN is empty, so there is no control token for http://127.0.0.1:9081. [ERR_NO_TOKEN]
      hint: Did reading the token file fail? Its token is in <site-dir>/control.token: \`export EDGEFN_TOKEN=$(cat <site-dir>/control.token)\`, or pass --token."
    `);
  });

  it.each(["ftp://host:21", "http://host:1/?x=1", "http://"])("refuses %s as a site URL, naming where it came from", (site) => {
    expect(render(() => resolveTarget({}, { EDGEFN_SITE: site, EDGEFN_TOKEN: TOKEN }))).toContain(`EDGEFN_SITE is "${site}"`);
  });
});

function render(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return renderError(err).join("\n");
  }
  throw new Error("expected an error");
}
