/** The version of deviceflow; a test keeps it equal to the one in deno.json. */
export const VERSION = "0.1.0";
