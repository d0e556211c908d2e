/**
 * The sign-in interaction in English: the reference every other language
 * has the same keys and placeholders as.
 *
 * @module
 */

/** The English messages. */
export const en = {
  message:
    "To sign in on this device, open {address} in a browser on another device and enter the code {code}",
  scanQr: "Or scan this code with a phone:",
  address: "Address:",
  code: "Code:",
  openComplete: "Or open:",
  codeFilledIn: "(the code is filled in)",
  host: "(host: {host})",
  waiting: "Waiting for the sign-in (the code expires in {time} min)...",
  resuming:
    "Waiting for the pending sign-in with code {code} at {address} (it expires in {time} min)",
  countdown: "Waiting for the sign-in in the browser: {time} left",
  countdownShort: "Waiting for the sign-in: {time} left",
  slowDown: "server asked to slow down: polling every {interval} s",
  retrying: "{reason}; retrying in {delay} s",
  pending: "pending, next poll in {interval} s",
  renewing: "The code expired; here is a new one ({attempt} of {max}).",
  finishLater: "When you have signed in, finish with: {command}",
  notApproved:
    "The sign-in started with 'deviceflow login --no-wait' is not approved yet: open {address} and enter the code {code}, then run this again",
  startingSignIn: "A sign-in is needed; starting one",
  otherProcess: "Another process is finishing this sign-in; waiting for it",
  signedIn: "Signed in as {username}.",
  declined: "The sign-in was declined",
  expired: "The device code expired before the sign-in was completed; start again",
  timedOut: "The sign-in did not finish within --timeout; run the command again",
  cancelled: "The sign-in was cancelled",
  signInNeeded: "A sign-in is needed; run: {command}",
  notSignedIn: "Not signed in; run: deviceflow login",
} as const;

/** The keys of the sign-in messages. */
export type MessageKey = keyof typeof en;
/** A language's sign-in messages: every key English has. */
export type Messages = Readonly<Record<MessageKey, string>>;
