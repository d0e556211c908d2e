/**
 * El inicio de sesión en español (términos de la documentación de Microsoft
 * sobre el flujo de código de dispositivo).
 *
 * @module
 */

import type { Messages } from "./en.ts";

/** Los textos en español. */
export const es: Messages = {
  message:
    "Para iniciar sesión en este dispositivo, abra {address} en un explorador web de otro dispositivo y escriba el código {code}",
  scanQr: "O escanee este código con un teléfono móvil:",
  address: "Dirección:",
  code: "Código:",
  openComplete: "O abra:",
  codeFilledIn: "(el código ya está escrito)",
  host: "(host: {host})",
  waiting: "Esperando el inicio de sesión (el código expira en {time} min)...",
  resuming:
    "Esperando el inicio de sesión pendiente con el código {code} en {address} (expira en {time} min)",
  countdown: "Esperando el inicio de sesión en el explorador: quedan {time}",
  countdownShort: "Esperando el inicio de sesión: quedan {time}",
  slowDown: "el servidor pidió consultar con menos frecuencia: cada {interval} s",
  retrying: "{reason}; nuevo intento en {delay} s",
  pending: "pendiente, próxima consulta en {interval} s",
  renewing: "El código expiró; aquí tiene uno nuevo ({attempt} de {max}).",
  finishLater: "Cuando haya iniciado sesión, termine con: {command}",
  notApproved:
    "El inicio de sesión empezado con 'deviceflow login --no-wait' aún no está aprobado: abra {address}, escriba el código {code} y vuelva a ejecutar el comando",
  startingSignIn: "Debe iniciar sesión; se inicia ahora",
  otherProcess: "Otro proceso está terminando este inicio de sesión; esperando",
  signedIn: "Sesión iniciada como {username}.",
  declined: "Se rechazó el inicio de sesión",
  expired:
    "El código de dispositivo expiró antes de completar el inicio de sesión; vuelva a empezar",
  timedOut: "El inicio de sesión no terminó dentro de --timeout; vuelva a ejecutar el comando",
  cancelled: "Se canceló el inicio de sesión",
  signInNeeded: "Debe iniciar sesión; ejecute: {command}",
  notSignedIn: "No ha iniciado sesión; ejecute: deviceflow login",
};
