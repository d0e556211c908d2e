/**
 * `deno task docs`: writes the option, environment and exit-code tables of
 * `docs/cli.md` from the code's own tables (`src/cli/reference.ts`).
 * `tests/docs_test.ts` fails when the checked-in file differs.
 *
 * @module
 */

import { withReference } from "../src/cli/reference.ts";

const path = new URL("../docs/cli.md", import.meta.url);
const before = await Deno.readTextFile(path);
const after = withReference(before);
if (after !== before) await Deno.writeTextFile(path, after);
console.error(after === before ? "docs/cli.md is up to date" : "wrote docs/cli.md");
