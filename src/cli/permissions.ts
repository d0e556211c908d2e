/**
 * Deno permissions the CLI lacks, said in one line with the flag to add.
 *
 * @module
 */

/** A permission Deno refused, as its error names it. */
export interface MissingPermission {
  /** The permission: `net`, `env`, `read`, `write`, `run`, `sys`, `ffi` or `import`. */
  readonly name: string;
  /** What it was refused for (a host, a variable, a path, a program), when Deno says. */
  readonly target: string | undefined;
}

const REFUSAL = /Requires (\w+) access(?: to "([^"]*)")?/;

/**
 * The permission an error, or any error it was caused by, says was missing.
 *
 * @param error What was thrown.
 * @returns The permission, or `undefined` when the error is about something else.
 */
export function missingPermission(error: unknown): MissingPermission | undefined {
  const seen = new Set<unknown>();
  for (let e = error; e !== null && e !== undefined && !seen.has(e); e = causeOf(e)) {
    seen.add(e);
    // Deno throws NotCapable; the message also survives in errors that wrap it.
    const message = e instanceof Error ? e.message : "";
    const match = message.match(REFUSAL);
    if (match) return { name: match[1]!, target: match[2] };
  }
  return undefined;
}

function causeOf(error: unknown): unknown {
  return error instanceof Error ? error.cause : undefined;
}

/**
 * One line naming a missing permission and the flag that grants it.
 *
 * @param missing The permission.
 * @param standalone Whether this is a compiled binary, whose permissions are fixed at build time.
 * @returns The line, without the `deviceflow: ` prefix.
 */
export function explainPermission(
  missing: MissingPermission,
  standalone: boolean = Deno.build.standalone,
): string {
  const flag = `--allow-${missing.name}`;
  const what = `${missing.name} access${missing.target ? ` to "${missing.target}"` : ""}`;
  const scoped = missing.target ? `${flag}=${missing.target}` : flag;
  if (standalone) {
    return `missing permission: ${what}; this binary was compiled without it (compile with ${scoped})`;
  }
  return `missing permission: ${what}; run deno with ${scoped}${
    missing.target ? ` (or ${flag})` : ""
  }`;
}

/**
 * The environment variables named in a message that Deno may not read: a
 * variable the user set looks unset without `--allow-env`.
 *
 * @param message A message that may name variables.
 * @returns The variables, in the order named.
 */
export function unreadableVariables(message: string): string[] {
  const names = [...new Set(message.match(/\b(?:DEVICEFLOW_[A-Z_]+|HOME)\b/g) ?? [])];
  return names.filter((variable) => !envGranted(variable));
}

/**
 * Whether Deno may read an environment variable.
 *
 * @param variable The variable.
 * @returns `true` when reading it needs no permission prompt.
 */
export function envGranted(variable: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "env", variable }).state === "granted";
  } catch {
    return true;
  }
}

/**
 * Every environment variable the CLI reads: what `--allow-env` needs to list
 * for all of its features (`deno task compile` grants exactly these).
 */
export const ENV_VARIABLES: readonly string[] = [
  "DEVICEFLOW_AUTHORITY",
  "DEVICEFLOW_CACHE",
  "DEVICEFLOW_CACHE_KEY",
  "DEVICEFLOW_CACHE_KEY_FILE",
  "DEVICEFLOW_CLIENT_ID",
  "DEVICEFLOW_CLIENT_SECRET",
  "DEVICEFLOW_CONFIG",
  "DEVICEFLOW_LEASE_TTL",
  "DEVICEFLOW_LOCK_TIMEOUT",
  "DEVICEFLOW_PROFILE",
  "DEVICEFLOW_PROVIDER",
  "DEVICEFLOW_SCOPE",
  "DEVICEFLOW_TENANT",
  "DEVICEFLOW_CONNECT_TIMEOUT",
  "DEVICEFLOW_REQUEST_TIMEOUT",
  // The language of the sign-in, in POSIX order after DEVICEFLOW_LANG.
  "DEVICEFLOW_LANG",
  "LC_ALL",
  "LC_MESSAGES",
  "LANG",
  // Where the cache and the config file are by default.
  "HOME",
  "USERPROFILE",
  "XDG_CACHE_HOME",
  "XDG_CONFIG_HOME",
  "LOCALAPPDATA",
  "APPDATA",
  // Output and --open.
  "NO_COLOR",
  "BROWSER",
  // token -o exec-credential: the version kubectl asks for.
  "KUBERNETES_EXEC_INFO",
  // A KV Connect cache URL: Deno.openKv reads it.
  "DENO_KV_ACCESS_TOKEN",
];

/** One permission a command needs: what Deno calls it, and for what. */
export interface Need {
  readonly name: "read" | "write" | "net";
  readonly target: string;
}

/**
 * Whether Deno grants a permission now, asked without prompting: a command
 * queries before it acts, so that Deno never stops to ask on a terminal.
 */
function granted(need: Need): boolean {
  try {
    const descriptor: Deno.PermissionDescriptor = need.name === "net"
      ? { name: "net", host: need.target }
      : { name: need.name, path: need.target };
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return true;
  }
}

/**
 * Everything a command is missing, in one error: one line names every flag to
 * add (directories, not single files), so that one rerun is enough.
 */
export class MissingPermissionsError extends Error {
  /** The permissions missing. */
  readonly needs: readonly Need[];
  /** @param needs The permissions missing. */
  constructor(needs: readonly Need[]) {
    super(
      needs.length === 1 ? explainPermission(needs[0]!) : MissingPermissionsError.#several(needs),
    );
    this.name = "MissingPermissionsError";
    this.needs = needs;
  }

  static #several(needs: readonly Need[]): string {
    const what = needs.map((n) => `${n.name} access to "${n.target}"`).join(", ");
    const flags = (["read", "write", "net"] as const)
      .map((name) => [name, needs.filter((n) => n.name === name).map((n) => n.target)] as const)
      .filter(([, targets]) => targets.length)
      .map(([name, targets]) => `--allow-${name}=${[...new Set(targets)].join(",")}`)
      .join(" ");
    return Deno.build.standalone
      ? `missing permissions: ${what}; this binary was compiled without them (compile with ${flags})`
      : `missing permissions: ${what}; run deno with ${flags}`;
  }
}

/**
 * Checks, without prompting, that Deno grants what a command needs.
 *
 * @param needs The permissions.
 * @throws {MissingPermissionsError} Naming all that are missing.
 */
export function requirePermissions(needs: readonly Need[]): void {
  const missing = needs.filter((need) => !granted(need));
  if (missing.length) throw new MissingPermissionsError(missing);
}
