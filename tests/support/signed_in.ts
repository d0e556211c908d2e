/**
 * Signed-in caches for the tests of the commands that use a token (`fetch`,
 * `run`): against the fake server, whose token endpoint the test scripts, or
 * against node-oidc-provider, approved through its pages. Also runs the CLI
 * as a process with bytes on stdin and stdout.
 *
 * @module
 */

import assert from "node:assert/strict";
import { approveDeviceCode } from "./approve.ts";
import type { DevServer } from "./dev_server.ts";
import { type CliIo, main } from "../../cli.ts";
import { discoveryDocument, type FakeRequest, type FakeServer, json } from "./fake_server.ts";
import { runMain, startMain } from "./cli_harness.ts";

/** The client ID the fake server's sign-ins use. */
export const FAKE_CLIENT = "api-client";

/** The tokens of the fake server's sign-in, and of each refresh after it. */
export interface FakeTokens {
  /** The refresh requests received so far. */
  refreshes(): FakeRequest[];
}

/**
 * Signs in through `deviceflow login` against the fake server: discovery,
 * `/device`, `/token` and `/userinfo` are routed. The sign-in issues
 * `at-0`/`rt-0`; refresh number N issues `at-N`/`rt-N`.
 *
 * @param server The fake server.
 * @param cache The cache file.
 * @returns The refresh requests, as they come.
 */
export async function signInFake(server: FakeServer, cache: string): Promise<FakeTokens> {
  server.route(
    "GET",
    "/.well-known/openid-configuration",
    json(200, discoveryDocument(server.url)),
  );
  server.route(
    "POST",
    "/device",
    json(200, {
      device_code: "dc-0123456789",
      user_code: "ABCD-EFGH",
      verification_uri: `${server.url}/verify`,
      expires_in: 600,
      interval: 1,
    }),
  );
  server.route("GET", "/userinfo", json(200, { sub: "u1", preferred_username: "user1" }));
  let refreshes = 0;
  server.route("POST", "/token", (req) => {
    const grant = req.form.get("grant_type");
    if (grant === "refresh_token") refreshes++;
    else if (!grant?.endsWith("device_code")) return json(400, { error: "unsupported_grant_type" });
    return json(200, {
      access_token: `at-${refreshes}-0123456789`,
      token_type: "Bearer",
      expires_in: 3600,
      refresh_token: `rt-${refreshes}-0123456789`,
    });
  });
  const result = await runMain([
    "login",
    "--authority",
    server.url,
    "--client-id",
    FAKE_CLIENT,
    "--cache",
    cache,
    "--no-default-scopes",
  ]);
  assert.equal(result.code, 0, result.stderr);
  return {
    refreshes: () =>
      server.requestsTo("/token").filter((r) => r.form.get("grant_type") === "refresh_token"),
  };
}

/**
 * Signs in through `deviceflow login` against node-oidc-provider, approving as `login`.
 *
 * @param server The dev server.
 * @param cache The cache file.
 * @param login Who signs in.
 */
export async function signInDev(server: DevServer, cache: string, login = "alice") {
  const run = startMain([
    "login",
    "--authority",
    server.issuer,
    "--client-id",
    server.clientId,
    "--cache",
    cache,
  ]);
  const { address, code } = await run.prompt;
  await approveDeviceCode(address, code, { login });
  const result = await run.done;
  assert.equal(result.code, 0, result.stderr);
}

/** What a run through {@linkcode runWithIo} produced, stdout as bytes too. */
export interface ByteRun {
  code: number;
  stdout: string;
  bytes: Uint8Array;
  stderr: string;
}

/**
 * Runs `main()` with an io that takes stdout as bytes and has the given stdin.
 *
 * @param args The command line.
 * @param stdin What stdin holds (none: the io has no stdin).
 * @returns The exit code and output.
 */
export async function runWithIo(args: string[], stdin?: string): Promise<ByteRun> {
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let stderr = "";
  const encoder = new TextEncoder();
  const io: CliIo = {
    stdout: (text) => {
      chunks.push(encoder.encode(text));
    },
    stdoutBytes: (bytes) => {
      chunks.push(bytes.slice());
    },
    stderr: (text) => {
      stderr += text;
    },
    env: () => undefined,
    stderrIsTerminal: false,
    ...(stdin === undefined ? {} : { stdin: () => Promise.resolve(stdin) }),
  };
  const code = await main(args, io);
  const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
  return { code, stdout: new TextDecoder().decode(bytes), bytes, stderr };
}

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

/**
 * Runs `deno run cli.ts` as a process with bytes on stdin.
 *
 * @param args The command line.
 * @param stdin What to write to its stdin.
 * @returns The exit code and output, stdout as bytes too.
 */
export async function runProcess(
  args: string[],
  stdin: Uint8Array | string = "",
): Promise<ByteRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-kv", CLI, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
  await writer.close();
  const output = await child.output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    bytes: output.stdout,
    stderr: new TextDecoder().decode(output.stderr),
  };
}
