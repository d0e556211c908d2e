/**
 * `deno task compile`: see `tests/support/compile.ts`, where the release tests use
 * the same code.
 *
 * @module
 */

import { main } from "../tests/support/compile.ts";

Deno.exit(await main(Deno.args));
