/**
 * Tokens where scripts and tools need them: `token --output` formats, the
 * kubectl ExecCredential, git's credential helper protocol, and the prompt
 * options (`--json-events`, `--qr`, `--open`, colours), against the real
 * authorization server.
 */

import assert from "node:assert/strict";
import { approveDeviceCode } from "./support/approve.ts";
import { type DevServer, startDevServer } from "./support/dev_server.ts";
import { type CliIo, main } from "../cli.ts";
import { parseCredentialRequest } from "../src/cli/commands/git_credential.ts";
import {
  devServerTest,
  runMain,
  serverArgs,
  startMain,
  withDevServer,
} from "./support/cli_harness.ts";
import { signInDev } from "./support/signed_in.ts";

const opts = devServerTest;

/** A dev server and a cache in which alice has signed in. */
function signedIn(run: (server: DevServer, cache: string) => Promise<void>): Promise<void> {
  return withDevServer({ interval: 1 }, async (server, cache) => {
    await signInDev(server, cache, "alice");
    await run(server, cache);
  });
}

async function tokenOf(cache: string): Promise<string> {
  return (await runMain(["token", "--cache", cache])).stdout.trim();
}

Deno.test({
  name: "token --output env, header and exec-credential print the cached token in each format",
  ...opts,
  fn: () =>
    signedIn(async (_server, cache) => {
      const token = await tokenOf(cache);
      const env = await runMain(["token", "--cache", cache, "-o", "env"]);
      assert.match(
        env.stdout,
        new RegExp(
          `^export ACCESS_TOKEN='${token}'\\nexport ACCESS_TOKEN_EXPIRES_AT='\\d{4}-\\d\\d-\\d\\dT[^']+Z'\\n$`,
        ),
      );
      // The exports work in a real shell.
      const shell = await new Deno.Command("sh", {
        args: ["-c", `${env.stdout} printf %s "$ACCESS_TOKEN"`],
        stdout: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(shell.stdout), token);

      const header = await runMain(["token", "--cache", cache, "--output", "header"]);
      assert.equal(header.stdout, `Authorization: Bearer ${token}\n`);

      const exec = await runMain(["token", "--cache", cache, "-o", "exec-credential"]);
      const credential = JSON.parse(exec.stdout);
      assert.equal(credential.apiVersion, "client.authentication.k8s.io/v1");
      assert.equal(credential.kind, "ExecCredential");
      assert.equal(credential.status.token, token);
      // RFC 3339 without fractions, as the Kubernetes schema's examples have it.
      assert.match(credential.status.expirationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.ok(Date.parse(credential.status.expirationTimestamp) > Date.now());
      // kubectl asks for the version it speaks in KUBERNETES_EXEC_INFO.
      const beta = await runMain(["token", "--cache", cache, "-o", "exec-credential"], {
        KUBERNETES_EXEC_INFO: JSON.stringify({
          kind: "ExecCredential",
          apiVersion: "client.authentication.k8s.io/v1beta1",
          spec: { interactive: false },
        }),
      });
      assert.equal(JSON.parse(beta.stdout).apiVersion, "client.authentication.k8s.io/v1beta1");

      const bad = await runMain(["token", "--cache", cache, "-o", "yaml"]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--output must be one of raw, json, env, header, exec-credential/);
    }),
});

Deno.test("shell quoting survives quotes in values", async () => {
  const { shellQuote } = await import("../src/cli/token_output.ts");
  const value = `it's "quoted" $HOME \`x\``;
  const out = await new Deno.Command("sh", {
    args: ["-c", `printf %s ${shellQuote(value)}`],
    stdout: "piped",
  }).output();
  assert.equal(new TextDecoder().decode(out.stdout), value);
});

function withStdin(input: string): Partial<CliIo> {
  return { stdin: () => Promise.resolve(input) };
}

async function runWithIo(args: string[], extra: Partial<CliIo>) {
  let stdout = "";
  let stderr = "";
  const code = await main(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: () => undefined,
    stderrIsTerminal: false,
    ...extra,
  });
  return { code, stdout, stderr };
}

Deno.test({
  name: "git-credential get answers git's protocol with the account and a valid token",
  ...opts,
  fn: () =>
    signedIn(async (_server, cache) => {
      const token = await tokenOf(cache);
      // What git writes to a helper's stdin for `get`.
      const request = "protocol=https\nhost=git.example.com\npath=org/repo.git\n\n";
      const result = await runWithIo(
        [
          "git-credential",
          "--cache",
          cache,
          "--no-interactive",
          "--git-host",
          "git.example.com",
          "get",
        ],
        withStdin(request),
      );
      assert.equal(result.code, 0, result.stderr);
      assert.ok(result.stdout.endsWith("\n\n"), "the answer must end with a blank line");
      const answer = parseCredentialRequest(result.stdout);
      assert.equal(answer.get("protocol"), "https");
      assert.equal(answer.get("host"), "git.example.com");
      assert.equal(answer.get("username"), "alice");
      assert.equal(answer.get("password"), token);
      assert.ok(Number(answer.get("password_expiry_utc")) > Date.now() / 1000);
      for (const action of ["store", "erase"]) {
        const other = await runWithIo(
          ["git-credential", "--cache", cache, action],
          withStdin(`${request.trim()}\nusername=alice\npassword=${token}\n\n`),
        );
        assert.equal(other.code, 0);
        assert.equal(other.stdout, "");
      }
      // erase changes nothing: the token is still served.
      assert.equal(await tokenOf(cache), token);
      const bad = await runWithIo(["git-credential", "--cache", cache, "fill"], withStdin(""));
      assert.equal(bad.code, 2);
    }),
});

Deno.test("git credential requests parse up to the blank line", () => {
  const parsed = parseCredentialRequest(
    "protocol=https\r\nhost=h\nurl=https://h/a=b\n\nhost=ignored\n",
  );
  assert.deepEqual([...parsed], [["protocol", "https"], ["host", "h"], ["url", "https://h/a=b"]]);
});

Deno.test({
  name: "login --json-events writes one JSON object per line and never the device code",
  ...opts,
  fn: () =>
    withDevServer({ interval: 1, slowDown: 1 }, async (server, cache) => {
      const run = startMain([
        "login",
        ...serverArgs(server, cache),
        "--json-events",
      ]);
      // The prompt is not text here: wait for the device_code event instead.
      let first;
      while (!(first = run.stderr().split("\n")[0]) || !first.endsWith("}")) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const event = JSON.parse(first);
      assert.equal(event.event, "device_code");
      assert.match(event.userCode, /^[A-Z]{4}-[A-Z]{4}$/);
      assert.equal(event.verificationUri, `${server.issuer}/device`);
      assert.ok(Date.parse(event.expiresAt) > Date.now());
      await approveDeviceCode(event.verificationUri, event.userCode, { login: "alice" });
      const result = await run.done;
      assert.equal(result.code, 0);
      const events = result.stderr.trim().split("\n").map((line) => JSON.parse(line));
      assert.deepEqual(events.map((e) => e.event).at(-1), "success");
      assert.ok(events.some((e) => e.event === "slow_down" && e.interval === 6));
      assert.equal(events.at(-1).account.username, "alice");
      const deviceCode = server.polls()[0]!.deviceCode!;
      assert.ok(deviceCode.length > 10);
      assert.ok(!result.stderr.includes(deviceCode), "the device code leaked");
    }),
});

Deno.test({
  name: "errors are JSON events too with --json-events",
  ...opts,
  fn: async () => {
    const server = await startDevServer({});
    try {
      const result = await runMain([
        "login",
        "--authority",
        server.issuer,
        "--client-id",
        "nobody",
        "--cache",
        ":memory:",
        "--json-events",
      ]);
      assert.equal(result.code, 1);
      const event = JSON.parse(result.stderr.trim());
      assert.equal(event.event, "error");
      assert.equal(event.code, "server_error");
      assert.equal(event.exitCode, 1);
      assert.match(event.message, /invalid_client/);
    } finally {
      await server.close();
    }
  },
});

function terminalIo(env: Record<string, string>, columns: number): Partial<CliIo> {
  return { stderrIsTerminal: true, columns: () => columns, env: (name) => env[name] };
}

async function promptOf(args: string[], extra: Partial<CliIo>): Promise<string> {
  const server = await startDevServer({ interval: 1 });
  try {
    const controller = new AbortController();
    let stderr = "";
    const done = main(
      [
        "login",
        "--authority",
        server.issuer,
        "--client-id",
        server.clientId,
        "--cache",
        ":memory:",
        ...args,
      ],
      {
        stdout: () => {},
        stderr: (t) => {
          stderr += t;
          if (/Waiting for the sign-in/.test(t)) controller.abort();
        },
        env: () => undefined,
        stderrIsTerminal: false,
        signal: controller.signal,
        ...extra,
      },
    );
    assert.equal(await done, 130);
    return stderr;
  } finally {
    await server.close();
  }
}

const HALF_BLOCKS = /[▀▄█]/;
const BOLD = "\x1b[1m";
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[/;

Deno.test({
  name: "the prompt draws a QR code and colours on a wide terminal, and not in logs",
  ...opts,
  fn: async () => {
    const terminal = await promptOf([], terminalIo({}, 120));
    assert.match(terminal, HALF_BLOCKS);
    assert.match(terminal, /Or scan this code with a phone/);
    assert.match(terminal, ANSI);
    // A narrow terminal gets no QR code it cannot show whole.
    assert.doesNotMatch(await promptOf([], terminalIo({}, 30)), HALF_BLOCKS);
    // Logs get neither a QR code nor escapes.
    const log = await promptOf([], {});
    assert.doesNotMatch(log, HALF_BLOCKS);
    assert.doesNotMatch(log, ANSI);
    // --qr forces it, --no-qr and --no-color and NO_COLOR turn things off.
    assert.match(await promptOf(["--qr"], {}), HALF_BLOCKS);
    assert.doesNotMatch(await promptOf(["--no-qr"], terminalIo({}, 120)), HALF_BLOCKS);
    const noColor = await promptOf(["--no-color"], terminalIo({}, 120));
    assert.ok(!noColor.includes(BOLD), "--no-color still made text bold");
    const envNoColor = await promptOf([], terminalIo({ NO_COLOR: "1" }, 120));
    assert.ok(!envNoColor.includes(BOLD), "NO_COLOR still made text bold");
  },
});

Deno.test({
  name: "login --open runs the browser with the complete address, and says when there is none",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const record = `${dir}/opened.txt`;
      const browser = `${dir}/browser.sh`;
      await Deno.writeTextFile(browser, `#!/bin/sh\nprintf %s "$1" > ${record}\n`);
      await Deno.chmod(browser, 0o755);
      const opened = await promptOf(["--open"], { env: (n) => ({ BROWSER: browser })[n] });
      const address = await Deno.readTextFile(record);
      assert.match(address, /\/device\?user_code=[A-Z]{4}-[A-Z]{4}$/);
      assert.ok(opened.includes(address));
      const missing = await promptOf(["--open"], {
        env: (n) => ({ BROWSER: `${dir}/no-such-browser` })[n],
      });
      assert.match(missing, /No browser can be opened here \(.*no-such-browser was not found\)/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
