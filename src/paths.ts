/**
 * Where things live on disk by default, per operating system.
 *
 * @module
 */

function env(name: string): string | undefined {
  return processEnv(name) || undefined;
}

function processEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    // Without --allow-env the variable is as good as unset.
    return undefined;
  }
}

function envReadable(name: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
  } catch {
    return true;
  }
}

function home(): string | undefined {
  return env("HOME") ?? env("USERPROFILE");
}

/**
 * The directory for per-user cache files: `$XDG_CACHE_HOME` or `~/.cache` on
 * Linux, `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows.
 *
 * @returns The directory, or `undefined` when the environment names none.
 */
export function userCacheDir(): string | undefined {
  switch (Deno.build.os) {
    case "windows":
      return env("LOCALAPPDATA");
    case "darwin": {
      const h = home();
      return h ? `${h}/Library/Caches` : undefined;
    }
    default: {
      const xdg = env("XDG_CACHE_HOME");
      if (xdg) return xdg;
      const h = home();
      return h ? `${h}/.cache` : undefined;
    }
  }
}

/**
 * The directory for per-user configuration: `$XDG_CONFIG_HOME` or `~/.config`
 * on Linux, `~/Library/Application Support` on macOS, `%APPDATA%` on Windows.
 *
 * @param env How to read the environment (default: this process's).
 * @returns The directory, or `undefined` when the environment names none.
 */
export function userConfigDir(
  env: (name: string) => string | undefined = processEnv,
): string | undefined {
  const get = (name: string) => env(name) || undefined;
  const home = get("HOME") ?? get("USERPROFILE");
  switch (Deno.build.os) {
    case "windows":
      return get("APPDATA");
    case "darwin":
      return home ? `${home}/Library/Application Support` : undefined;
    default: {
      // The XDG spec says to ignore a relative XDG_CONFIG_HOME.
      const xdg = get("XDG_CONFIG_HOME");
      if (xdg?.startsWith("/")) return xdg;
      return home ? `${home}/.config` : undefined;
    }
  }
}

/**
 * The default config file: `deviceflow/config.json` in {@linkcode userConfigDir}.
 *
 * @param env How to read the environment (default: this process's).
 * @returns The path, or `undefined` when the environment names no config directory.
 */
export function defaultConfigPath(
  env: (name: string) => string | undefined = processEnv,
): string | undefined {
  const dir = userConfigDir(env);
  if (!dir) return undefined;
  const sep = Deno.build.os === "windows" ? "\\" : "/";
  return `${dir}${sep}deviceflow${sep}config.json`;
}

/**
 * The default token cache file.
 *
 * @returns The path.
 * @throws {Deno.errors.NotCapable} When Deno may not read the variable that names the directory.
 * @throws {TypeError} When no cache directory can be found (no HOME).
 */
export function defaultCachePath(): string {
  const dir = userCacheDir();
  if (!dir) {
    // HOME may well be set: without --allow-env it only looks unset.
    const needed = Deno.build.os === "windows" ? "LOCALAPPDATA" : "HOME";
    if (!envReadable(needed)) {
      throw new Deno.errors.NotCapable(
        `Requires env access to "${needed}", run again with the --allow-env flag`,
      );
    }
    throw new TypeError(
      "Cannot find a cache directory (HOME is not set); pass --cache PATH or set DEVICEFLOW_CACHE",
    );
  }
  const sep = Deno.build.os === "windows" ? "\\" : "/";
  return `${dir}${sep}deviceflow${sep}cache.db`;
}

/**
 * The directory of a file path; `.` for a bare file name.
 *
 * @param path A file path (POSIX or Windows separators).
 * @returns Its directory.
 */
export function dirOf(path: string): string {
  const end = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return end < 0 ? "." : end === 0 ? path.slice(0, 1) : path.slice(0, end);
}
