/**
 * `deviceflow fetch`: a curl-like call of a web API with the access token.
 *
 * @module
 */

import { optionsFor } from "../settings.ts";
import { bearerError, fetchWithToken, type TokenSource } from "../../client/api_fetch.ts";
import { secureUrl } from "../../url_policy.ts";
import { redact } from "../../redact.ts";
import { DEFAULT_CONNECT_TIMEOUT_MS, transportReason, withTimeouts } from "../../http.ts";
import { CancelledError, NetworkError } from "../../errors.ts";
import { UsageError, type Values } from "../args.ts";
import { type Command, permittedFetch } from "../context.ts";
import { requestTimeouts } from "../args.ts";
import { verboseFetch } from "../session.ts";
import { commandHelp } from "../help.ts";
import { EXIT } from "../io.ts";
import { type GuardedIo, jsonLine, oneLine } from "../format.ts";
import { withTokens } from "../tokens.ts";

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

interface ApiRequest {
  url: URL;
  init: RequestInit & { headers: Headers };
}

async function fetchCommand(values: Values, io: GuardedIo, positionals: string[]): Promise<number> {
  const request = await buildRequest(values, io, positionals);
  return await withTokens(values, io, async (getToken) => {
    const token: TokenSource = ({ reason, claims }) =>
      getToken({
        forceRefresh: reason === "invalid_token" ||
          (reason === "initial" && values["force-refresh"] === true),
        ...(claims ? { claims } : {}),
      });
    const limits = requestTimeouts(values, io.env);
    const fetchImpl = withTimeouts(
      values.verbose ? verboseFetch(io, values) : (io.fetch ??
        permittedFetch((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init))),
      {
        connectTimeout: limits.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS,
        // An API may stream a large download: only --request-timeout limits the whole answer.
        requestTimeout: limits.requestTimeout ?? Infinity,
      },
    );
    let response: Response;
    try {
      response = await fetchWithToken(request.url, {
        ...request.init,
        ...(io.signal ? { signal: io.signal } : {}),
      }, { token, fetch: fetchImpl });
    } catch (error) {
      throw transportError(error, request.url, io);
    }
    if (values.include) await io.stdoutBytes(new TextEncoder().encode(head(response)));
    await copyBody(response, request.url, io);
    if (response.ok) return EXIT.ok;
    // An API's WWW-Authenticate description may quote the token.
    const message = redact(describeStatus(response, request.url));
    io.stderr(
      values["json-events"]
        ? jsonLine({
          event: "error",
          code: "http_error",
          message,
          status: response.status,
          exitCode: EXIT.httpError,
        })
        : `deviceflow: ${message}\n`,
    );
    return EXIT.httpError;
  });
}

/** Checks the command line and builds the request, before anything is fetched. */
async function buildRequest(
  values: Values,
  io: GuardedIo,
  positionals: string[],
): Promise<ApiRequest> {
  if (positionals.length === 0) throw new UsageError("fetch: give the URL to call");
  if (positionals.length > 1) {
    throw new UsageError(`fetch: unexpected argument "${positionals[1]}" (give one URL)`);
  }
  let url: URL;
  try {
    url = secureUrl(positionals[0]!, "the URL");
  } catch (error) {
    throw new UsageError(`fetch: ${(error as Error).message.replace(/^Cannot use /, "")}`);
  }
  const headers = new Headers();
  for (const line of (values.header as string[] | undefined) ?? []) {
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon).trim() : "";
    if (!name) throw new UsageError(`fetch: -H needs "Name: value", not "${line}"`);
    if (name.toLowerCase() === "authorization") {
      throw new UsageError("fetch: -H Authorization is not allowed: the access token is sent");
    }
    try {
      headers.append(name, line.slice(colon + 1).trim());
    } catch {
      throw new UsageError(`fetch: -H "${line}" is not a valid header`);
    }
  }
  const body = await readBody(values, io);
  if (body !== undefined && !headers.has("content-type")) {
    headers.set("content-type", "application/x-www-form-urlencoded");
  }
  const method = (values.request as string | undefined) ?? (body === undefined ? "GET" : "POST");
  if (!METHOD.test(method)) throw new UsageError(`fetch: -X needs a method name, not "${method}"`);
  const init = { method, headers, ...(body === undefined ? {} : { body }) };
  try {
    new Request(url, init);
  } catch (error) {
    // GET and HEAD take no body; CONNECT, TRACE and TRACK cannot be sent by fetch.
    throw new UsageError(`fetch: cannot send ${method}: ${(error as Error).message}`);
  }
  return { url, init };
}

async function readBody(
  values: Values,
  io: GuardedIo,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const data = (values.data as string[] | undefined) ?? [];
  const file = values["data-file"] as string | undefined;
  if (data.length > 1) throw new UsageError("fetch: give -d once");
  if (data.length && file !== undefined) {
    throw new UsageError("fetch: -d and --data-file exclude each other");
  }
  const value = data[0];
  if (value === "@-") return new TextEncoder().encode(io.stdin ? await io.stdin() : "");
  const path = value?.startsWith("@") ? value.slice(1) : file;
  if (path !== undefined) {
    try {
      return await Deno.readFile(path);
    } catch (error) {
      throw new UsageError(`fetch: cannot read ${path}: ${(error as Error).message}`);
    }
  }
  return value === undefined ? undefined : new TextEncoder().encode(value);
}

/**
 * The status line and headers, as curl -i prints them (CRLF line ends). They
 * go out as bytes, beside the body, so each line is made terminal-safe here.
 */
function head(response: Response): string {
  const lines = [`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`];
  for (const [name, value] of response.headers) lines.push(`${name}: ${value}`);
  return lines.map(oneLine).join("\r\n") + "\r\n\r\n";
}

async function copyBody(response: Response, url: URL, io: GuardedIo): Promise<void> {
  if (!response.body) return;
  try {
    for await (const chunk of response.body) await io.stdoutBytes(chunk);
    // The end: a writer that decodes text flushes what it held back.
    await io.stdoutBytes(new Uint8Array());
  } catch (error) {
    if (io.signal?.aborted) throw new CancelledError(undefined, { cause: error });
    // Whoever reads stdout stopped reading: not the network's fault.
    if (error instanceof NetworkError || error instanceof Deno.errors.BrokenPipe) throw error;
    throw new NetworkError(`The answer of ${url.host} was cut short: ${transportReason(error)}`, {
      cause: error,
    });
  }
}

function describeStatus(response: Response, url: URL): string {
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  const location = response.headers.get("location");
  if (response.status >= 300 && response.status < 400 && location) {
    let target = location;
    try {
      target = new URL(location, url).origin;
    } catch {
      // Shown as sent.
    }
    return target === url.origin
      ? `fetch: ${url.host} answered ${status}: too many redirects`
      : `fetch: ${url.host} answered ${status}: the redirect to ${target} was not followed, so that the token is not sent to another origin`;
  }
  const bearer = response.status === 401 || response.status === 403
    ? bearerError(response)
    : undefined;
  const detail = bearer
    ? ` (${bearer.error}${bearer.error_description ? `: ${bearer.error_description}` : ""})`
    : "";
  return `fetch: ${url.host} answered ${status}${detail}`;
}

function transportError(error: unknown, url: URL, io: GuardedIo): unknown {
  if (io.signal?.aborted) return new CancelledError(undefined, { cause: error });
  // fetch itself throws TypeError when the host cannot be reached.
  if (error instanceof TypeError) {
    return new NetworkError(`Cannot reach ${url.host}: ${transportReason(error)}`, {
      cause: error,
    });
  }
  return error;
}

const OPTIONS = optionsFor("fetch");

// Built when asked for: a cached `token` never shows help.
const help = () =>
  commandHelp({
    usage: `deviceflow fetch URL [-X METHOD] [-H 'Name: value']... [-d DATA | -d @- |
       --data-file PATH] [-i] [token options]`,
    about:
      `Calls a web API with a valid access token, as curl does: the response body goes to stdout as
it is (binary safe). The URL must use https (http only on loopback addresses). With -d, the
Content-Type defaults to application/x-www-form-urlencoded unless -H sets it.`,
    options: OPTIONS,
    notes: `When the API answers 401 with error="invalid_token", the token is refreshed and the
request sent once more; on a claims challenge (401 with error="insufficient_claims" and
claims=), a token with those claims is acquired and the request sent once more. Redirects are
followed only within the URL's origin, so the token is never sent elsewhere (the 3xx is the
answer). Exit status: 0 for a 2xx answer, 6 for any other (the body is still printed, and one
line on stderr names the status), 141 when stdout is closed early (| head); otherwise as for
'deviceflow --help'.`,
    examples: [
      "deviceflow fetch https://graph.microsoft.com/v1.0/me --scope User.Read",
      "deviceflow fetch -X POST -H 'Content-Type: application/json' -d @body.json https://api.example.com/items",
      "deviceflow fetch -i https://api.github.com/user --profile gh | head -1",
    ],
  });

/** `deviceflow fetch`. */
export const command: Command = {
  summary: "Call a web API with the access token, curl-like (exit 6 on an HTTP error)",
  options: OPTIONS,
  get help() {
    return help();
  },
  positionals: true,
  run: fetchCommand,
};
