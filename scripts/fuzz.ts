/**
 * `deno task fuzz`: the long random fuzz run. The generators and oracles
 * live in `tests/support/fuzz.ts`, where the CI's fixed-seed fuzz test uses
 * them too.
 *
 * @module
 */

import { main } from "../tests/support/fuzz.ts";

Deno.exit(await main(Deno.args));
