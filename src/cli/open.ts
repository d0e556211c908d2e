/**
 * Opening an address in the local browser, for `--open`.
 *
 * @module
 */

import { firstLine } from "../untrusted.ts";

/** The program that opens a URL here, honouring `$BROWSER`. */
export function browserCommand(
  url: string,
  env: (name: string) => string | undefined,
): [string, string[]] {
  const browser = env("BROWSER");
  if (browser) return [browser, [url]];
  switch (Deno.build.os) {
    case "darwin":
      return ["open", [url]];
    case "windows":
      // `cmd /c start` would split the URL at every "&".
      return ["rundll32", ["url.dll,FileProtocolHandler", url]];
    default:
      return ["xdg-open", [url]];
  }
}

/**
 * Opens a URL in the local browser.
 *
 * @param url The address.
 * @param env The environment (for `$BROWSER`).
 * @returns `undefined` when it was opened, else a sentence saying why not.
 */
export async function openBrowser(
  url: string,
  env: (name: string) => string | undefined,
): Promise<string | undefined> {
  const [program, args] = browserCommand(url, env);
  try {
    const status = await new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return status.success
      ? undefined
      : `${program} could not open a browser (exit ${status.code}); open the address yourself`;
  } catch (error) {
    return error instanceof Deno.errors.NotFound
      ? `No browser can be opened here (${program} was not found); open the address on another device`
      : `Cannot open a browser: ${firstLine(error)}`;
  }
}
