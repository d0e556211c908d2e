/**
 * Advice for the errors a device code client meets: Entra ID's AADSTS numbers
 * and the OAuth and provider error values. Microsoft says not to branch on the
 * numbers, and we do not: they only choose the sentence a person reads.
 *
 * @module
 */

const AADSTS_ADVICE: ReadonlyMap<number, string> = new Map([
  [50059, "Use a tenanted authority (the tenant's domain or ID) instead of common or consumers"],
  [90133, "This endpoint does not support device code sign-in; use a tenanted authority"],
  [90002, "The tenant was not found; check the tenant name and the cloud (host)"],
  [700016, "The application was not found in the tenant; check the client ID and the tenant"],
  [
    7000218,
    'The app registration requires a client secret; enable "Allow public client flows" on it',
  ],
  [70019, "The device code expired; start the sign-in again"],
  [70018, "The device code was not recognised; start the sign-in again"],
  [65001, "Consent is missing; ask an administrator to consent, or consent in the browser"],
  [65004, "Consent was declined; consent in the browser or ask an administrator"],
  [50076, "Multi-factor authentication is required; sign in again"],
  [50079, "Multi-factor enrolment is required; sign in again"],
  [
    53003,
    "Blocked by Conditional Access; ask the tenant admin (device code sign-in may be blocked by policy)",
  ],
  [50196, "The same request was sent too often; slow down and retry later"],
  [70011, "A scope is invalid; fix the scopes"],
  [700022, "Scopes name more than one resource; request one resource at a time"],
  [500011, "The resource was not found in the tenant; check the resource or scope URI"],
]);

const ERROR_ADVICE: ReadonlyMap<string, string> = new Map([
  ["invalid_client", "Check the client ID (and the client secret, if the server requires one)"],
  [
    "unauthorized_client",
    "The client is not allowed to use the device code grant; enable it for this client on the server",
  ],
  ["invalid_scope", "Check the requested scopes"],
  ["unsupported_grant_type", "The server does not support the device code grant for this client"],
  ["incorrect_client_credentials", "Check the client ID"],
  ["device_flow_disabled", "Enable Device Flow in the app's settings on the server"],
  ["incorrect_device_code", "The device code was not recognised; start the sign-in again"],
  ["bad_verification_code", "The device code was not recognised; start the sign-in again"],
]);

/**
 * The advice for an error, preferring the first AADSTS number that has one.
 *
 * @param error The OAuth `error` value.
 * @param errorCodes Entra's `error_codes`.
 * @returns One sentence without a full stop, or `undefined`.
 */
export function adviceFor(error: string, errorCodes: readonly number[]): string | undefined {
  for (const code of errorCodes) {
    const advice = AADSTS_ADVICE.get(code);
    if (advice) return advice;
  }
  return ERROR_ADVICE.get(error);
}
