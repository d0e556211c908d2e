/**
 * A test that needs something this machine may not have (a shell, a mount,
 * root): where it is missing the test is reported as ignored, with the
 * reason in its name, never as passed.
 *
 * @module
 */

/**
 * The name and `ignore` of such a test.
 *
 * @param name What the test checks.
 * @param available Whether what it needs is here.
 * @param missing Why it cannot run, for its name when it is not.
 * @returns `name` and `ignore`, to spread into `Deno.test({ ... })`.
 */
export function needs(
  name: string,
  available: boolean,
  missing: string,
): { name: string; ignore: boolean } {
  return { name: available ? name : `${name} (NOT RUN: ${missing})`, ignore: !available };
}
