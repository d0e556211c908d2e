/**
 * Die Anmeldung auf Deutsch (Begriffe wie in Microsofts Dokumentation zum
 * Gerätecodeflow).
 *
 * @module
 */

import type { Messages } from "./en.ts";

/** Die deutschen Texte. */
export const de: Messages = {
  message:
    "Um sich auf diesem Gerät anzumelden, öffnen Sie {address} in einem Webbrowser auf einem anderen Gerät und geben Sie den Code {code} ein",
  scanQr: "Oder scannen Sie diesen Code mit einem Smartphone:",
  address: "Adresse:",
  code: "Code:",
  openComplete: "Oder öffnen Sie:",
  codeFilledIn: "(der Code ist bereits eingetragen)",
  host: "(Host: {host})",
  waiting: "Warten auf die Anmeldung (der Code läuft in {time} Min. ab)...",
  resuming:
    "Warten auf die ausstehende Anmeldung mit dem Code {code} unter {address} (läuft in {time} Min. ab)",
  countdown: "Warten auf die Anmeldung im Browser: noch {time}",
  countdownShort: "Warten auf die Anmeldung: noch {time}",
  slowDown: "der Server bittet um langsamere Abfragen: alle {interval} s",
  retrying: "{reason}; neuer Versuch in {delay} s",
  pending: "ausstehend, nächste Abfrage in {interval} s",
  renewing: "Der Code ist abgelaufen; hier ist ein neuer ({attempt} von {max}).",
  finishLater: "Wenn Sie sich angemeldet haben, schließen Sie ab mit: {command}",
  notApproved:
    "Die mit 'deviceflow login --no-wait' begonnene Anmeldung ist noch nicht bestätigt: öffnen Sie {address}, geben Sie den Code {code} ein und führen Sie den Befehl dann erneut aus",
  startingSignIn: "Eine Anmeldung ist erforderlich; sie wird gestartet",
  otherProcess: "Ein anderer Prozess schließt diese Anmeldung ab; es wird darauf gewartet",
  signedIn: "Angemeldet als {username}.",
  declined: "Die Anmeldung wurde abgelehnt",
  expired:
    "Der Gerätecode ist abgelaufen, bevor die Anmeldung abgeschlossen wurde; bitte erneut starten",
  timedOut:
    "Die Anmeldung wurde nicht innerhalb von --timeout abgeschlossen; führen Sie den Befehl erneut aus",
  cancelled: "Die Anmeldung wurde abgebrochen",
  signInNeeded: "Eine Anmeldung ist erforderlich; führen Sie aus: {command}",
  notSignedIn: "Nicht angemeldet; führen Sie aus: deviceflow login",
};
