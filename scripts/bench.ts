/**
 * `deno task bench`: how fast and how small `deviceflow token` is, as a whole
 * process, both from the working tree (`deno run cli.ts`) and as the release
 * build (`deno run` of the bundle `deno task build` makes, which is what the
 * compiled binaries embed), next to the floor (`deno run` of an empty script)
 * and next to MSAL Node doing `acquireTokenSilent` from its file cache
 * (`bench_msal_peer.ts`), all against one local node-oidc-provider server over
 * TLS. Then a refresh storm: four processes of each at once with an expired
 * access token, and how many refresh requests reached the server.
 *
 * It is a measurement: it exits 0 when a target is missed, and non-zero only
 * when something failed to run or a check of the runs themselves failed.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { approveDeviceCode } from "../tests/support/approve.ts";
import { build, type Bundle, bundleArgs } from "../tests/support/build.ts";
import { type DevServer, startDevServer } from "../tests/support/dev_server.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const PEER = new URL("./bench_msal_peer.ts", import.meta.url).pathname;
const DENO = Deno.execPath();

const DEFAULT_RUNS = 15;
const MIN_RUNS = 10;
const WARMUP_ROUNDS = 2;
const STORM = 4;
/**
 * The targets of issue 11: the release build within 1.2 x the KV floor and
 * 1.5 x the empty script, source within 1.5 x the KV floor, 1,000 cached
 * accounts within 1.1 x one, and MSAL Node at least 3 x slower.
 */
const TARGETS = {
  releaseVsFloor: 1.2,
  releaseVsEmpty: 1.5,
  sourceVsFloor: 1.5,
  manyVsOne: 1.1,
  vsMsal: 1 / 3,
  peakMiB: 37,
  stormRefreshes: 1,
} as const;
/** How many accounts the large cache holds for the same client. */
const MANY_ACCOUNTS = 1000;
/** A sign-in or a storm process that takes longer than this is stuck. */
const STEP_TIMEOUT_MS = 60_000;

const NOTE =
  "The server accepts MSAL Node's /devicecode and grant_type=device_code (Entra-isms) for the peer.";

const USAGE = `Usage: deno task bench [--runs N] [--json PATH]

Times whole processes on a local OAuth server over TLS: deviceflow token with a cached
token (deno run cli.ts, and the release build: deno run of the bundle the binaries embed,
with 1 and with ${MANY_ACCOUNTS} accounts cached for the client), deno run of an empty script,
the KV floor (a script that opens the cache file and reads one entry), and MSAL Node
acquireTokenSilent from its file cache; then a refresh storm of ${STORM} processes of each.

  --runs N       Timed rounds of the six commands, after ${WARMUP_ROUNDS} warm-up rounds (default ${DEFAULT_RUNS})
  --json PATH    Also write the figures as JSON
  -h, --help     Show this help
`;

type Name = "deviceflow" | "release" | "many" | "empty" | "kvfloor" | "msal";
const NAMES: readonly Name[] = ["deviceflow", "release", "many", "empty", "kvfloor", "msal"];
/** The ways deviceflow itself is run. */
const DEVICEFLOW: readonly Name[] = ["deviceflow", "release", "many"];
/** The row that stands for the shipped binary: a compiled binary embeds the same bundle. */
const SHIPPED: Name = "release";
const LABELS: Record<Name, string> = {
  deviceflow: "deviceflow token (deno run cli.ts)",
  release: "deviceflow token, release build (deno run dist bundle)",
  many: `deviceflow token, release build, ${MANY_ACCOUNTS} accounts cached for the client`,
  empty: "deno run empty script",
  kvfloor: "deno run script: open the KV file, read one entry (KV floor)",
  msal: "MSAL Node acquireTokenSilent",
};

/** The two deviceflow commands, as the targets table names them. */
const TARGET_LABELS = {
  deviceflow: "deviceflow (deno run cli.ts)",
  release: "deviceflow release build (shipped binary)",
} as const;

/** How the peak memory of a child is measured. */
type MemoryMethod =
  | { kind: "time"; label: string }
  | { kind: "python"; label: string }
  | { kind: "none"; label: string };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** Peak resident set size in KiB, when it could be measured. */
  peakKiB: number | undefined;
}

/** What the timed runs of one command gave. */
interface Tally {
  wallMs: number[];
  peakMiB: number[];
  /** Requests the server received during the timed runs, and how many were token requests. */
  serverRequests: number;
  tokenRequests: number;
}

class BenchError extends Error {}

// Everything started here, so that a failure or Ctrl-C can end it; once
// stopping, nothing new starts.
const children = new Set<Deno.ChildProcess>();
let stopping = false;

function say(text: string): void {
  console.error(`bench: ${text}`);
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/**
 * Starts a process in a process group of its own (`detached`), so that
 * ending it also ends what it started: the command under /usr/bin/time.
 */
function spawn(
  argv: string[],
  env: Record<string, string>,
  signal?: AbortSignal,
): Deno.ChildProcess {
  if (stopping) throw new BenchError("stopping");
  const [program, ...args] = argv;
  const child = new Deno.Command(program!, {
    args,
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  children.add(child);
  const kill = () => killGroup(child);
  signal?.addEventListener("abort", kill, { once: true });
  child.status.finally(() => {
    children.delete(child);
    signal?.removeEventListener("abort", kill);
  });
  return child;
}

function killGroup(child: Deno.ChildProcess): void {
  try {
    Deno.kill(-child.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** Ends every process still running, and waits until they have. */
async function stopAll(): Promise<void> {
  stopping = true;
  const running = [...children];
  running.forEach(killGroup);
  await Promise.allSettled(running.map((child) => child.status));
}

// ------------------------------------------------------------------ setup

async function opensslRuns(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("openssl", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/**
 * A throwaway self-signed certificate for 127.0.0.1. It must say CA:FALSE:
 * openssl's default `req -x509` marks it a CA, and rustls refuses a CA
 * certificate as a server's own (CaUsedAsEndEntity).
 */
async function makeCertificate(dir: string): Promise<{ cert: string; key: string; path: string }> {
  const config = `${dir}/openssl.cnf`;
  await Deno.writeTextFile(
    config,
    [
      "[req]",
      "distinguished_name = dn",
      "x509_extensions = ext",
      "prompt = no",
      "[dn]",
      "CN = 127.0.0.1",
      "[ext]",
      "basicConstraints = critical, CA:FALSE",
      "subjectAltName = IP:127.0.0.1",
      "keyUsage = critical, digitalSignature",
      "extendedKeyUsage = serverAuth",
      "",
    ].join("\n"),
  );
  const path = `${dir}/cert.pem`;
  const keyPath = `${dir}/key.pem`;
  const { success, stderr } = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-config",
      config,
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      path,
      "-days",
      "1",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new BenchError(`openssl could not make a certificate: ${decode(stderr).trim()}`);
  }
  return { cert: await Deno.readTextFile(path), key: await Deno.readTextFile(keyPath), path };
}

async function detectMemoryMethod(dir: string): Promise<MemoryMethod> {
  const out = `${dir}/probe.txt`;
  try {
    const { success } = await new Deno.Command("/usr/bin/time", {
      args: ["-f", "%M", "-o", out, "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    if (success && /^\d+\s*$/.test(await Deno.readTextFile(out))) {
      return { kind: "time", label: "/usr/bin/time -f %M (peak RSS of the child)" };
    }
  } catch {
    // Not installed: try the next way.
  }
  try {
    const { success } = await new Deno.Command("python3", {
      args: ["-c", PYTHON_WRAPPER, out, "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    if (success && /^\d+\s*$/.test(await Deno.readTextFile(out))) {
      return {
        kind: "python",
        label: "python3 resource.getrusage(RUSAGE_CHILDREN).ru_maxrss (peak RSS of the child)",
      };
    }
  } catch {
    // Not installed either.
  }
  return { kind: "none", label: "peak memory unavailable (neither /usr/bin/time nor python3)" };
}

/** Runs argv[2:], then writes its peak RSS in KiB (Linux's unit of ru_maxrss) to argv[1]. */
const PYTHON_WRAPPER = `import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write("%d\\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)`;

/** Reads a stream until `match` finds what it looks for in the text so far. */
async function readUntil<T>(
  stream: ReadableStream<Uint8Array>,
  match: (text: string) => T | undefined,
): Promise<T> {
  let seen = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    seen += chunk;
    const found = match(seen);
    if (found !== undefined) return found;
  }
  throw new BenchError(`the program ended before showing a code; it wrote:\n${seen}`);
}

/**
 * Runs a sign-in program, approves the code it shows through the server's
 * pages, and waits for it to finish.
 */
async function signIn(
  what: string,
  argv: string[],
  env: Record<string, string>,
  find: (text: string) => { address: string; code: string } | undefined,
  login: string,
  fetchWithCa: typeof fetch,
): Promise<void> {
  const signal = AbortSignal.timeout(STEP_TIMEOUT_MS);
  const child = spawn(argv, env, signal);
  const stdout = new Response(child.stdout).text();
  const [forPrompt, rest] = child.stderr.tee();
  const stderr = new Response(rest).text();
  const found = await readUntil(forPrompt, find);
  await approveDeviceCode(found.address, found.code, { login, fetch: fetchWithCa, signal });
  const [status, out, err] = await Promise.all([child.status, stdout, stderr]);
  if (!status.success) {
    throw new BenchError(`${what} sign-in exited ${status.code}:\n${err.trim()}\n${out.trim()}`);
  }
}

function findCliPrompt(text: string): { address: string; code: string } | undefined {
  const address = text.match(/^\s*Address:\s*(\S+)/m)?.[1];
  const code = text.match(/^\s*Code:\s*(\S+)/m)?.[1];
  return address && code ? { address, code } : undefined;
}

function findPeerPrompt(text: string): { address: string; code: string } | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const { verificationUri, userCode } = JSON.parse(line);
      if (typeof verificationUri === "string" && typeof userCode === "string") {
        return { address: verificationUri, code: userCode };
      }
    } catch {
      // A partial line: wait for the rest.
    }
  }
  return undefined;
}

// ------------------------------------------------------------------ caches

const ACCESS_TOKEN_PREFIX = ["deviceflow", "v1", "access_token"];

/** The access tokens in deviceflow's cache file, read as the CLI stores them. */
async function deviceflowTokens(path: string): Promise<Deno.KvEntry<Record<string, unknown>>[]> {
  const kv = await Deno.openKv(path);
  try {
    return await Array.fromAsync(kv.list<Record<string, unknown>>({ prefix: ACCESS_TOKEN_PREFIX }));
  } finally {
    kv.close();
  }
}

async function expireDeviceflowTokens(path: string): Promise<number> {
  const entries = await deviceflowTokens(path);
  const kv = await Deno.openKv(path);
  try {
    for (const entry of entries) {
      await kv.set(entry.key, { ...entry.value, expiresAt: Date.now() - 60_000 });
    }
  } finally {
    kv.close();
  }
  return entries.length;
}

/**
 * A copy of a cache with `count - 1` more accounts of the same client, each
 * with a token: the signed-in account stays the active one.
 */
async function manyAccounts(from: string, to: string, count: number): Promise<void> {
  // Private, as deviceflow makes its own cache files: it refuses one others may read.
  await Deno.writeFile(to, new Uint8Array(), { mode: 0o600 });
  const source = await Deno.openKv(from);
  const target = await Deno.openKv(to);
  try {
    const entries = await Array.fromAsync(source.list({ prefix: ["deviceflow"] }));
    for (const entry of entries) await target.set(entry.key, entry.value);
    const account = entries.find((e) => e.key[2] === "account");
    const token = entries.find((e) => e.key[2] === "access_token");
    if (!account || !token) throw new BenchError("the signed-in cache has no account or token");
    const [, , , authority, clientId] = account.key as string[];
    for (let i = 1; i < count; i++) {
      const id = `bench-${String(i).padStart(4, "0")}`;
      const username = `${id}@example.com`;
      const atomic = target.atomic()
        .set(["deviceflow", "v1", "account", authority!, clientId!, id], {
          ...(account.value as Record<string, unknown>),
          homeAccountId: id,
          username,
        })
        .set(["deviceflow", "v1", "account_name", authority!, clientId!, username, id], {
          homeAccountId: id,
        })
        .set(
          ["deviceflow", "v1", "access_token", authority!, clientId!, id, token.key[6]!],
          { ...(token.value as Record<string, unknown>), secret: `bench-token-${i}` },
        );
      await atomic.commit();
    }
  } finally {
    source.close();
    target.close();
  }
}

/** MSAL's JSON cache keeps expiry times as strings of epoch seconds. */
async function expireMsalTokens(path: string): Promise<number> {
  const cache = JSON.parse(await Deno.readTextFile(path));
  const past = String(Math.floor(Date.now() / 1000) - 60);
  const tokens = Object.values(cache.AccessToken ?? {}) as Record<string, unknown>[];
  for (const token of tokens) {
    token.expires_on = past;
    token.extended_expires_on = past;
    delete token.refresh_on;
  }
  await Deno.writeTextFile(path, JSON.stringify(cache));
  return tokens.length;
}

// ------------------------------------------------------------------ measuring

/**
 * Runs a command once as a bare process, timed from spawn to exit, or once
 * under the memory wrapper for its peak RSS. The two are separate runs
 * because the wrapper's own start (about 1 ms for /usr/bin/time, tens for
 * Python) would otherwise be counted in every wall time, flattering ratios.
 */
async function measure(
  argv: string[],
  env: Record<string, string>,
  memory: MemoryMethod | undefined,
  scratch: string,
): Promise<Run> {
  const out = `${scratch}/peak.txt`;
  if (memory) await Deno.remove(out).catch(() => {});
  const wrapped = memory?.kind === "time"
    ? ["/usr/bin/time", "-f", "%M", "-o", out, ...argv]
    : memory?.kind === "python"
    ? ["python3", "-c", PYTHON_WRAPPER, out, ...argv]
    : argv;
  const started = performance.now();
  const output = await spawn(wrapped, env, AbortSignal.timeout(STEP_TIMEOUT_MS))
    .output();
  const wallMs = performance.now() - started;
  let peakKiB: number | undefined;
  if (memory && memory.kind !== "none") {
    const peak = (await Deno.readTextFile(out).catch(() => "")).trim();
    if (/^\d+$/.test(peak)) peakKiB = Number(peak);
  }
  return {
    code: output.code,
    stdout: decode(output.stdout),
    stderr: decode(output.stderr),
    wallMs,
    peakKiB,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function tokenRequests(server: DevServer, from: number): number {
  return server.requests.slice(from).filter((r) => r.path === "/token").length;
}

// ------------------------------------------------------------------ storm

interface StormResult {
  /** refresh_token grants that reached the server. */
  refreshRequests: number;
  /** The HTTP status the server gave each of them. */
  refreshStatuses: number[];
  exitCodes: number[];
  distinctTokens: number;
  wallMs: number;
  errors: string[];
}

async function storm(
  argv: string[],
  env: Record<string, string>,
  server: DevServer,
): Promise<StormResult> {
  const from = server.requests.length;
  const signal = AbortSignal.timeout(STEP_TIMEOUT_MS);
  const started = performance.now();
  const outputs = await Promise.all(
    Array.from({ length: STORM }, () => spawn(argv, env, signal).output()),
  );
  const wallMs = performance.now() - started;
  const refreshes = server.requests.slice(from).filter((r) => r.grantType === "refresh_token");
  const tokens = outputs.filter((o) => o.success).map((o) => decode(o.stdout).trim());
  return {
    refreshRequests: refreshes.length,
    refreshStatuses: refreshes.map((r) => r.status),
    exitCodes: outputs.map((o) => o.code),
    distinctTokens: new Set(tokens).size,
    wallMs,
    errors: outputs.filter((o) => !o.success).map((o) => lastLine(decode(o.stderr))),
  };
}

function describeStorm(result: StormResult): string {
  const statuses = result.refreshStatuses.length
    ? ` (HTTP ${result.refreshStatuses.join(", ")})`
    : "";
  const ok = result.exitCodes.filter((c) => c === 0).length;
  return `${result.refreshRequests} refresh request(s)${statuses}; ${ok} of ${STORM} exited 0; ${result.distinctTokens} distinct token(s); ${
    fixed(result.wallMs, 0)
  } ms${result.errors.length ? `; error: ${result.errors[0]}` : ""}`;
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n").filter((l) => l.trim());
  return (lines.at(-1) ?? "(nothing on stderr)").slice(0, 300);
}

// ------------------------------------------------------------------ machine

async function machine(): Promise<Record<string, string | number>> {
  const read = (path: string) => Deno.readTextFile(path).catch(() => "");
  const [cpuinfo, meminfo, osRelease] = await Promise.all([
    read("/proc/cpuinfo"),
    read("/proc/meminfo"),
    read("/etc/os-release"),
  ]);
  const memKiB = Number(meminfo.match(/^MemTotal:\s+(\d+)/m)?.[1] ?? NaN);
  const distro = osRelease.match(/^PRETTY_NAME="?([^"\n]*)"?/m)?.[1];
  return {
    cpus: navigator.hardwareConcurrency,
    cpuModel: cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1]?.trim() ?? "unknown",
    memoryGiB: Number.isFinite(memKiB) ? Number((memKiB / 1024 / 1024).toFixed(1)) : "unknown",
    deno: `${Deno.version.deno} (V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript})`,
    os: `${Deno.build.os} ${Deno.build.arch}${
      distro ? `, ${distro}` : ""
    }, kernel ${Deno.osRelease()}`,
  };
}

// ------------------------------------------------------------------ output

/** A command line for reading: paths relative to the repository, the temporary directory as $TMP. */
function shorten(command: string, dir: string): string {
  return command.replaceAll(dir, "$TMP").replaceAll(ROOT, "");
}

function fixed(value: number | undefined, digits = 1): string {
  return value === undefined || !Number.isFinite(value) ? "n/a" : value.toFixed(digits);
}

function table(rows: string[][], right: ReadonlySet<number>): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((row) =>
    row.map((cell, i) => right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))
      .join("   ").trimEnd()
  ).join("\n");
}

// ------------------------------------------------------------------ the benchmark

/** The server, the signed-in caches and the six commands. */
interface Setup {
  server: DevServer;
  env: Record<string, string>;
  commands: Record<Name, string[]>;
  dfCache: string;
  msalCache: string;
  /** The access token deviceflow cached at sign-in, which `token` must print. */
  cachedToken: string;
  memory: MemoryMethod;
  /** The release build. */
  bundle: Bundle;
}

/** What must be closed at the end, filled in as setting up goes. */
interface Resources {
  server?: DevServer;
  client?: Deno.HttpClient;
}

interface CommandStats {
  command: string;
  medianMs: number;
  p90Ms: number;
  minMs: number;
  medianPeakMiB: number | null;
  maxPeakMiB: number | null;
  wallMs: number[];
  peakMiB: number[];
  /** Requests the server received during the timed runs, and how many of them were token requests. */
  serverRequests: number;
  tokenRequests: number;
}

interface Target {
  /** The command whose figure it is. */
  command: Name;
  name: string;
  value: number | null;
  target: string;
  result: "PASS" | "MISS" | "n/a";
}

/** Everything one run of the benchmark found: printed as text, and written by `--json`. */
interface Report {
  runs: number;
  warmupRounds: number;
  server: string;
  memoryMethod: string;
  commands: Record<Name, CommandStats>;
  ratios: Record<
    "deviceflow" | "release",
    { toEmpty: number; toFloor: number; toMsal: number }
  >;
  /** The row that stands for the shipped binary, and what it runs. */
  shippedBinary: { command: Name; bundle: string; bundleBytes: number; build: string };
  targets: Target[];
  storm: { size: number; deviceflow: StormResult; msal: StormResult };
  /** Checks of the runs themselves that failed; the exit code is 1 when there is any. */
  failedChecks: string[];
  note: string;
  machine: Record<string, string | number>;
}

async function setUp(dir: string, resources: Resources): Promise<Setup> {
  const tls = await makeCertificate(dir);
  const client = resources.client = Deno.createHttpClient({ caCerts: [tls.cert] });
  const fetchWithCa: typeof fetch = (input, init) => fetch(input, { ...init, client });
  const memory = await detectMemoryMethod(dir);
  const server = resources.server = await startDevServer({
    tls: { cert: tls.cert, key: tls.key },
    msalCompat: true,
    interval: 1,
  });
  const { issuer, clientId } = server;
  say(`server ${issuer} (node-oidc-provider over TLS); peak memory by ${memory.label}`);

  // fetch trusts DENO_CERT; node:https (inside MSAL Node) trusts NODE_EXTRA_CA_CERTS only.
  const env: Record<string, string> = {
    ...Deno.env.toObject(),
    DENO_CERT: tls.path,
    NODE_EXTRA_CA_CERTS: tls.path,
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
    // The sign-in's prompt is read for its Address and Code lines: English, whatever LANG says.
    DEVICEFLOW_LANG: "en",
  };

  // Given to MSAL as authorityMetadata, so its silent calls need no discovery request.
  const metadataPath = `${dir}/openid-configuration.json`;
  const discovery = await fetchWithCa(`${issuer}/.well-known/openid-configuration`);
  if (!discovery.ok) throw new BenchError(`discovery answered HTTP ${discovery.status}`);
  await Deno.writeTextFile(metadataPath, await discovery.text());

  const dfCache = `${dir}/df.db`;
  const msalCache = `${dir}/msal-cache.json`;
  const emptyScript = `${dir}/empty.ts`;
  await Deno.writeTextFile(emptyScript, "");
  // The floor of this design: what any token from a KV cache costs at least.
  const floorScript = `${dir}/kv_floor.ts`;
  await Deno.writeTextFile(
    floorScript,
    `const kv = await Deno.openKv(Deno.args[0]);\nconst entry = await kv.get(["deviceflow", "v1", "active", Deno.args[1], Deno.args[2]]);\nif (entry.versionstamp === null) Deno.exit(1);\nkv.close();\n`,
  );
  const manyCache = `${dir}/df-many.db`;
  say("building the release build (deno task build) into the temporary directory");
  const bundle = await build(`${dir}/deviceflow.js`);
  const where = ["--authority", issuer, "--client-id", clientId];
  const token = ["token", ...where, "--cache", dfCache, "--no-interactive"];
  const deviceflow = [DENO, "run", "-A", "--unstable-kv", CLI];
  const peer = [DENO, "run", "-A", PEER];
  const commands: Record<Name, string[]> = {
    deviceflow: [...deviceflow, ...token],
    release: [DENO, "run", "-A", "--unstable-kv", bundle.path, ...token],
    many: [
      DENO,
      "run",
      "-A",
      "--unstable-kv",
      bundle.path,
      ...token.map((a) => a === dfCache ? manyCache : a),
    ],
    empty: [DENO, "run", "-A", "--unstable-kv", emptyScript],
    kvfloor: [DENO, "run", "-A", "--unstable-kv", floorScript, dfCache, issuer, clientId],
    msal: [...peer, "silent", ...where, "--cache", msalCache, "--metadata", metadataPath],
  };

  say("signing deviceflow (as alice) and the MSAL Node peer (as bob) in");
  await Promise.all([
    signIn(
      "deviceflow",
      [...deviceflow, "login", ...where, "--cache", dfCache],
      env,
      findCliPrompt,
      "alice",
      fetchWithCa,
    ),
    signIn(
      "MSAL Node",
      [...peer, "login", ...where, "--cache", msalCache],
      env,
      findPeerPrompt,
      "bob",
      fetchWithCa,
    ),
  ]);
  await manyAccounts(dfCache, manyCache, MANY_ACCOUNTS);
  const cached = await deviceflowTokens(dfCache);
  const cachedToken = cached[0]?.value.secret;
  if (cached.length !== 1 || typeof cachedToken !== "string") {
    throw new BenchError(`expected one cached deviceflow access token, found ${cached.length}`);
  }
  return {
    server,
    env,
    commands,
    dfCache,
    msalCache,
    cachedToken,
    memory,
    bundle,
  };
}

/**
 * The timed rounds: in each, every command once as a bare process (its wall
 * time) and once under the memory wrapper (its peak), in an order that rotates.
 */
async function timedRounds(
  setup: Setup,
  runs: number,
  dir: string,
  failedChecks: string[],
): Promise<Record<Name, Tally>> {
  const { server, commands, env, memory, cachedToken } = setup;
  const tally = (): Tally => ({ wallMs: [], peakMiB: [], serverRequests: 0, tokenRequests: 0 });
  const results = Object.fromEntries(NAMES.map((name) => [name, tally()])) as Record<Name, Tally>;
  const total = WARMUP_ROUNDS + runs;
  say(`${WARMUP_ROUNDS} warm-up rounds, then ${runs} timed rounds of ${NAMES.length} commands`);
  for (let round = 0; round < total; round++) {
    // The order rotates, so that no command always follows the same one.
    const order = NAMES.map((_, i) => NAMES[(i + round) % NAMES.length]!);
    for (const name of order) {
      const from = server.requests.length;
      const bare = await measure(commands[name], env, undefined, dir);
      const wrapped = await measure(commands[name], env, memory, dir);
      for (const [run, how] of [[bare, "timed"], [wrapped, "memory"]] as const) {
        const label = `${LABELS[name]} (round ${round + 1}, ${how} run)`;
        if (run.code !== 0) {
          throw new BenchError(`${label} exited ${run.code}: ${lastLine(run.stderr)}`);
        }
        const printed = run.stdout.trim();
        if (DEVICEFLOW.includes(name) && printed !== cachedToken) {
          failedChecks.push(`${label} printed a token other than the cached one`);
        }
        if (name === "msal" && printed === "") failedChecks.push(`${label} printed no token`);
      }
      if (round < WARMUP_ROUNDS) continue;
      const result = results[name];
      result.serverRequests += server.requests.length - from;
      result.tokenRequests += tokenRequests(server, from);
      result.wallMs.push(bare.wallMs);
      if (wrapped.peakKiB !== undefined) result.peakMiB.push(wrapped.peakKiB / 1024);
    }
    Deno.stderr.writeSync(new TextEncoder().encode(round + 1 === total ? "\n" : "."));
  }
  for (const name of DEVICEFLOW) {
    if (results[name].tokenRequests > 0) {
      failedChecks.push(
        `the server saw ${results[name].tokenRequests} token requests during the timed runs of ${
          LABELS[name]
        }`,
      );
    }
  }
  return results;
}

/** Both storms, one after the other: the server's log does not record client_id. */
async function storms(
  setup: Setup,
  failedChecks: string[],
): Promise<{ deviceflow: StormResult; msal: StormResult }> {
  say(`refresh storm: ${STORM} processes of each at once, with the cached access token expired`);
  const { server, commands, env } = setup;
  const expiredDeviceflow = await expireDeviceflowTokens(setup.dfCache);
  const deviceflow = await storm(commands.deviceflow, env, server);
  const expiredMsal = await expireMsalTokens(setup.msalCache);
  const msal = await storm(commands.msal, env, server);
  if (expiredDeviceflow === 0 || expiredMsal === 0) {
    failedChecks.push(
      `nothing to expire (deviceflow ${expiredDeviceflow}, MSAL ${expiredMsal} access tokens)`,
    );
  }
  // MSAL Node's failures are part of what is measured; deviceflow's are a failure to run.
  if (deviceflow.exitCodes.some((c) => c !== 0)) {
    failedChecks.push(`deviceflow storm processes failed: ${deviceflow.errors.join(" | ")}`);
  }
  return { deviceflow, msal };
}

function commandStats(
  command: string[],
  result: Tally,
): CommandStats {
  const { wallMs, peakMiB } = result;
  return {
    command: command.map((a) => a === DENO ? "deno" : a).join(" "),
    medianMs: median(wallMs),
    p90Ms: percentile(wallMs, 90),
    minMs: Math.min(...wallMs),
    medianPeakMiB: peakMiB.length ? median(peakMiB) : null,
    maxPeakMiB: peakMiB.length ? Math.max(...peakMiB) : null,
    wallMs: wallMs.map((v) => Number(v.toFixed(2))),
    peakMiB: peakMiB.map((v) => Number(v.toFixed(2))),
    serverRequests: result.serverRequests,
    tokenRequests: result.tokenRequests,
  };
}

function targetsOf(
  commands: Record<Name, CommandStats>,
  storm: StormResult,
): { ratios: Report["ratios"]; targets: Target[] } {
  const result = (pass: boolean | undefined) => pass === undefined ? "n/a" : pass ? "PASS" : "MISS";
  const ms = (name: Name) => commands[name].medianMs;
  const ratio = (name: Name) => ({
    toEmpty: ms(name) / ms("empty"),
    toFloor: ms(name) / ms("kvfloor"),
    toMsal: ms(name) / ms("msal"),
  });
  const ratios = { deviceflow: ratio("deviceflow"), release: ratio("release") };
  const at = (
    command: Name,
    name: string,
    value: number | null,
    op: "<=" | ">=",
    target: number,
  ): Target => ({
    command,
    name,
    value,
    target: `${op} ${Number(target.toFixed(3))}`,
    result: result(value === null ? undefined : op === "<=" ? value <= target : value >= target),
  });
  const release = TARGET_LABELS.release;
  return {
    ratios,
    targets: [
      at("release", `${release} / KV floor`, ratios.release.toFloor, "<=", TARGETS.releaseVsFloor),
      at(
        "release",
        `${release} / empty script`,
        ratios.release.toEmpty,
        "<=",
        TARGETS.releaseVsEmpty,
      ),
      at(
        "release",
        `${release}, median peak memory, MiB`,
        commands.release.medianPeakMiB,
        "<=",
        TARGETS.peakMiB,
      ),
      at(
        "deviceflow",
        `${TARGET_LABELS.deviceflow} / KV floor`,
        ratios.deviceflow.toFloor,
        "<=",
        TARGETS.sourceVsFloor,
      ),
      at(
        "many",
        `${release}, ${MANY_ACCOUNTS} accounts / 1 account`,
        ms("many") / ms("release"),
        "<=",
        TARGETS.manyVsOne,
      ),
      at("release", `MSAL Node / ${release}`, ms("msal") / ms("release"), ">=", 1 / TARGETS.vsMsal),
      {
        command: "deviceflow",
        name: `refresh requests, storm of ${STORM} ${TARGET_LABELS.deviceflow}`,
        value: storm.refreshRequests,
        target: `= ${TARGETS.stormRefreshes}`,
        // One request is not enough: every process must have ended with its result.
        result: result(
          storm.refreshRequests === TARGETS.stormRefreshes && storm.distinctTokens === 1 &&
            storm.exitCodes.every((c) => c === 0),
        ),
      },
    ],
  };
}

function render(report: Report, dir: string): string {
  const { commands, storm, machine: m, shippedBinary: shipped } = report;
  const requests = (name: Name) =>
    `${name === "msal" ? "MSAL Node" : LABELS[name]} ${
      commands[name].serverRequests
    } (token endpoint ${commands[name].tokenRequests})`;
  const value = (v: number | null) =>
    // Three decimals, so that a ratio just over its target does not print as the target.
    v === null ? "n/a" : Number.isInteger(v) ? String(v) : v.toFixed(3);
  return [
    `deviceflow benchmark: whole processes, median of ${report.runs} alternating rounds after ${report.warmupRounds} warm-up rounds`,
    `server: node-oidc-provider at ${report.server} over TLS (a throwaway self-signed certificate)`,
    "",
    table([
      ["command", "median ms", "p90 ms", "min ms", "median peak MiB", "max peak MiB"],
      ...NAMES.map((name) => [
        LABELS[name],
        fixed(commands[name].medianMs),
        fixed(commands[name].p90Ms),
        fixed(commands[name].minMs),
        fixed(commands[name].medianPeakMiB ?? undefined),
        fixed(commands[name].maxPeakMiB ?? undefined),
      ]),
    ], new Set([1, 2, 3, 4, 5])),
    `shipped binary: the "${
      LABELS[shipped.command]
    }" row. deno task compile compiles this same bundle into every binary; the binary itself is not timed here (it starts on denort, not deno run).`,
    "",
    table([
      ["target", "value", "target", "result"],
      ...report.targets.map((t) => [t.name, value(t.value), t.target, t.result]),
      [
        `refresh requests, storm of ${STORM} MSAL Node (file cache)`,
        String(storm.msal.refreshRequests),
        "(comparison)",
        "",
      ],
    ], new Set([1])),
    "",
    `refresh storm, ${TARGET_LABELS.deviceflow}: ${describeStorm(storm.deviceflow)}`,
    `refresh storm, MSAL Node: ${describeStorm(storm.msal)}`,
    "(one storm after the other; each counts the refresh_token grants the server logged while it ran, as the log does not record client_id)",
    "",
    ...NAMES.map((name) => `${name.padEnd(10)} ${shorten(commands[name].command, dir)}`),
    `(all from the repository root, so all six read its deno.json and deno.lock; the release build ${
      shorten(shipped.bundle, dir)
    } is ${(shipped.bundleBytes / 1024).toFixed(1)} KiB, made by ${shorten(shipped.build, dir)})`,
    "",
    "wall time: performance.now() around spawn to exit of each bare process",
    `peak memory: ${report.memoryMethod}, from a second run of each command in the same round`,
    `checks: every run exited 0; both deviceflow commands printed the cached token ${
      report.failedChecks.some((c) => c.includes("other than")) ? "NOT every time" : "every time"
    }; server requests during the timed runs: ${
      [...DEVICEFLOW, "msal" as const].map(requests).join(", ")
    }`,
    `MSAL Node peer: npm:@azure/msal-node 7, protocolMode OIDC, knownAuthorities [${
      new URL(report.server).host
    }], authorityMetadata from the discovery document, a JSON file cache through a cache plugin`,
    `note: ${report.note}`,
    `machine: ${m.cpus} CPUs, ${m.cpuModel}, ${m.memoryGiB} GiB RAM, Deno ${m.deno}, ${m.os}`,
  ].join("\n");
}

function parseOptions(args: string[]): { runs: number; json?: string } | "help" {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      runs: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  let runs = DEFAULT_RUNS;
  if (values.runs !== undefined) {
    if (!/^\d+$/.test(values.runs) || Number(values.runs) < 1) {
      throw new TypeError(`--runs must be a positive integer, not "${values.runs}"`);
    }
    runs = Number(values.runs);
  }
  return values.json === undefined ? { runs } : { runs, json: values.json };
}

/**
 * Runs the benchmark.
 *
 * @param args `--runs N`, `--json PATH`.
 * @returns The exit code: 0 when everything ran, whatever the figures say.
 */
export async function main(args: string[]): Promise<number> {
  let options: { runs: number; json?: string };
  try {
    const parsed = parseOptions(args);
    if (parsed === "help") {
      console.log(USAGE);
      return 0;
    }
    options = parsed;
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.runs < MIN_RUNS) {
    say(`warning: ${options.runs} rounds; the issue's figures need at least ${MIN_RUNS}`);
  }
  if (!(await opensslRuns())) {
    console.error("bench: openssl is needed to make a throwaway TLS certificate; it was not found");
    return 1;
  }

  const dir = await Deno.makeTempDir({ prefix: "deviceflow-bench-" });
  const resources: Resources = {};
  // Ctrl-C and the end of main() may both clean up: once is enough.
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    cleaning ??= (async () => {
      await stopAll();
      resources.client?.close();
      await resources.server?.close().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  const onInterrupt = () => {
    say("interrupted; cleaning up");
    cleanUp().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    const setup = await setUp(dir, resources);
    const failedChecks: string[] = [];
    const rounds = await timedRounds(setup, options.runs, dir, failedChecks);
    const storm = await storms(setup, failedChecks);
    const commands = Object.fromEntries(
      NAMES.map((name) => [name, commandStats(setup.commands[name], rounds[name])]),
    ) as Record<Name, CommandStats>;
    const report: Report = {
      runs: options.runs,
      warmupRounds: WARMUP_ROUNDS,
      server: setup.server.issuer,
      memoryMethod: setup.memory.label,
      commands,
      shippedBinary: {
        command: SHIPPED,
        bundle: setup.bundle.path,
        bundleBytes: setup.bundle.size,
        build: ["deno", ...bundleArgs(setup.bundle.path)].join(" "),
      },
      ...targetsOf(commands, storm.deviceflow),
      storm: { size: STORM, ...storm },
      failedChecks,
      note: NOTE,
      machine: await machine(),
    };
    console.log(render(report, dir));
    if (options.json) {
      await Deno.writeTextFile(options.json, JSON.stringify(report, null, 2) + "\n");
      say(`wrote ${options.json}`);
    }
    for (const check of failedChecks) console.error(`bench: check failed: ${check}`);
    return failedChecks.length ? 1 : 0;
  } catch (error) {
    // Interrupted: what failed was only killed.
    if (stopping) return 130;
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    if (!(error instanceof BenchError) && error instanceof Error && error.stack) {
      console.error(error.stack);
    }
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    await cleanUp();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
