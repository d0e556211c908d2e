/**
 * `deno task demo`: the whole job on a fresh machine. Starts the local
 * authorization server, runs `deviceflow login` against it, approves the code
 * through the server's pages as a person would (or, with `--manual`, waits for
 * you to do it in a browser), then gets a token from the cache with
 * `deviceflow token` and shows what is cached.
 *
 * @module
 */

import { parseArgs } from "node:util";

const CLI = new URL("../cli.ts", import.meta.url);

/** Reads stderr lines until the prompt's address and code have been seen. */
async function readPrompt(
  lines: AsyncIterator<string>,
  echo: (line: string) => void,
): Promise<{ address: string; code: string }> {
  let address: string | undefined;
  let code: string | undefined;
  while (!address || !code) {
    const next = await lines.next();
    if (next.done) throw new Error("deviceflow login ended before showing a code");
    echo(next.value);
    address ??= next.value.match(/^\s*Address:\s*(\S+)/)?.[1];
    code ??= next.value.match(/^\s*Code:\s*(\S+)/)?.[1];
  }
  return { address, code };
}

async function* splitLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let index;
    while ((index = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, index);
      buffer = buffer.slice(index + 1);
    }
  }
  if (buffer) yield buffer;
}

function cli(args: string[], stderr: "piped" | "inherit" = "inherit"): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-kv", CLI.href, ...args],
    stdin: "null",
    stdout: "piped",
    stderr,
    // The demo reads the prompt's Address and Code lines: English, whatever LANG says.
    env: { NO_COLOR: "1", DEVICEFLOW_LANG: "en" },
  });
}

/**
 * Runs the demo.
 *
 * @param args `--manual` to approve in a browser yourself.
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { manual: { type: "boolean" } } });
  const say = (text: string) => console.error(`\x1b[36mdemo:\x1b[0m ${text}`);
  // Said before the server's modules load: on a first run Deno downloads them (node-oidc-provider
  // and its dependencies from npm), a screen of "Download" lines that is not deviceflow's output.
  say("starting the local authorization server (a first run downloads its npm packages first)");
  const [{ startDevServer }, { approveDeviceCode }] = await Promise.all([
    import("../tests/support/dev_server.ts"),
    import("../tests/support/approve.ts"),
  ]);
  const server = await startDevServer({ interval: 1 });
  const dir = await Deno.makeTempDir({ prefix: "deviceflow-demo-" });
  const cache = `${dir}/cache.db`;
  const common = ["--authority", server.issuer, "--client-id", server.clientId, "--cache", cache];
  try {
    say(`local authorization server (node-oidc-provider) at ${server.issuer}`);
    say(`running: deviceflow login --authority ${server.issuer} --client-id ${server.clientId}`);
    const login = cli(["login", ...common, "--scope", "email"], "piped").spawn();
    const lines = splitLines(login.stderr);
    const { address, code } = await readPrompt(lines, (line) => console.error(`  | ${line}`));
    const rest = (async () => {
      for await (const line of { [Symbol.asyncIterator]: () => lines }) {
        console.error(`  | ${line}`);
      }
    })();
    if (values.manual) {
      say(`open ${address} in a browser, enter ${code}, and sign in with any name and password`);
    } else {
      say(`approving ${code} at ${address} as a person would: code, confirm, login, consent`);
      await approveDeviceCode(address, code, { login: "alice" });
    }
    const [status, stdout] = await Promise.all([
      login.status,
      new Response(login.stdout).text(),
      rest,
    ]);
    const summary = stdout.trim();
    if (!status.success) {
      say(`deviceflow login failed with exit code ${status.code}`);
      return status.code;
    }
    say(`deviceflow login printed (stdout): ${summary}`);

    const token = await cli(["token", "--cache", cache, "--no-interactive"]).output();
    const accessToken = new TextDecoder().decode(token.stdout).trim();
    // The token itself is a secret even here: only its length is shown.
    say(
      `deviceflow token (from the cache, no network): exit ${token.code}, printed a token of ${accessToken.length} characters (not shown)`,
    );
    const state = await cli(["status", "--cache", cache]).output();
    say("deviceflow status:");
    console.error(new TextDecoder().decode(state.stdout).replace(/^/gm, "  | ").trimEnd());
    say(
      `the server saw ${server.polls().length} polls and ${server.requests.length} requests in all`,
    );
    return token.code;
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
