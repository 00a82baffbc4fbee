/**
 * Which site a command talks to: `--site` and `--token` first, then EDGEFN_SITE and
 * EDGEFN_TOKEN. Resolved once, at the edge of each command, into a SiteTarget that also
 * remembers where each value came from, so a later 401 or refused connection can say which
 * setting to fix.
 */
import { CliError } from "./errors.ts";

export interface SiteTarget {
  /** The site's control API, e.g. `http://127.0.0.1:9080` (no trailing slash). */
  url: string;
  token: string;
  /** Where `url` and `token` came from (`--site`, `EDGEFN_SITE`, ...), for error hints. */
  from: { url: string; token: string };
}

/** The options of every command that talks to a site; spread into its `args`. */
export const TARGET_ARGS = {
  site: { type: "string", valueHint: "url", description: "Control API of the site (default: $EDGEFN_SITE)" },
  token: { type: "string", valueHint: "token", description: "The site's control token (default: $EDGEFN_TOKEN)" },
} as const;

const TOKEN_HELP = "Its token is in <site-dir>/control.token: `export EDGEFN_TOKEN=$(cat <site-dir>/control.token)`, or pass --token.";

export function resolveTarget(
  flags: { site?: string | undefined; token?: string | undefined },
  env: Record<string, string | undefined> = process.env,
): SiteTarget {
  const site = pick(flags.site, "--site", env["EDGEFN_SITE"], "EDGEFN_SITE");
  if (site === undefined) {
    throw new CliError("ERR_NO_SITE", "No site given: edgefn does not know which site to talk to.", {
      hint: "Pass --site http://<host>:<control-port>, or `export EDGEFN_SITE=http://127.0.0.1:9080`. `edgefn site up <site-dir>` prints both for a local site.",
    });
  }
  const url = parseSiteUrl(site.value, site.from);

  const token = pick(flags.token, "--token", env["EDGEFN_TOKEN"], "EDGEFN_TOKEN");
  if (token === undefined) {
    const empty = env["EDGEFN_TOKEN"] !== undefined;
    throw new CliError(
      "ERR_NO_TOKEN",
      empty ? `EDGEFN_TOKEN is empty, so there is no control token for ${url}.` : `No control token for ${url}.`,
      { hint: empty ? `Did reading the token file fail? ${TOKEN_HELP}` : `The control API needs the site's token. ${TOKEN_HELP}` },
    );
  }
  return { url, token: token.value, from: { url: site.from, token: token.from } };
}

/** The flag wins over the environment; empty strings count as unset. */
function pick(flag: string | undefined, flagName: string, env: string | undefined, envName: string) {
  const f = flag?.trim();
  if (f) return { value: f, from: flagName };
  const e = env?.trim();
  if (e) return { value: e, from: envName };
  return undefined;
}

/** `127.0.0.1:9080` means `http://127.0.0.1:9080`; anything but http(s) is refused. */
function parseSiteUrl(raw: string, from: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL | undefined;
  try {
    url = new URL(withScheme);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.search !== "" || url.hash !== "") {
    throw new CliError("ERR_NO_SITE", `${from} is "${raw}", which is not the URL of a site's control API.`, {
      hint: `Set ${from} to http://<host>:<control-port>, e.g. http://127.0.0.1:9080.`,
    });
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, "");
}
