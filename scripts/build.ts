/**
 * `deno task build`: see `tests/support/build.ts`, where the release tests use
 * the same code.
 *
 * @module
 */

import { main } from "../tests/support/build.ts";

Deno.exit(await main(Deno.args));
