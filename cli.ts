/**
 * The `deviceflow` command: sign in with a device code, print tokens for
 * scripts, and manage the cached accounts. Library code never prints or
 * exits; the commands in `src/cli/` turn its results and typed errors into
 * text and exit codes.
 *
 * @example Run it from a Deno program
 * ```ts
 * import { main } from "@deviceflow/deviceflow/cli";
 *
 * // Prints "deviceflow <version>" on this process's stdout.
 * const code = await main(["--version"]);
 * if (code !== 0) throw new Error(`deviceflow exited ${code}`);
 * ```
 *
 * @module
 */

import { main } from "./src/cli/main.ts";
import { EXIT, interrupts, processIo } from "./src/cli/io.ts";

export { main } from "./src/cli/main.ts";
export { type CliIo, EXIT } from "./src/cli/io.ts";

if (import.meta.main) {
  const controller = new AbortController();
  let interrupted = 0;
  const onInterrupt = () => {
    // A second Ctrl-C does not wait for the clean stop.
    if (++interrupted > 1 && !interrupts.deferToChild) Deno.exit(EXIT.interrupted);
    controller.abort(new DOMException("Interrupted", "AbortError"));
  };
  let listening = false;
  const listenForInterrupts = () => {
    if (listening) return;
    listening = true;
    try {
      Deno.addSignalListener("SIGINT", onInterrupt);
    } catch {
      // Signals cannot be listened to everywhere.
    }
  };
  Deno.exit(
    await main(Deno.args, { ...processIo(), signal: controller.signal, listenForInterrupts }),
  );
}
