/**
 * La connexion en français (termes de la documentation Microsoft sur le flux
 * de code d’appareil).
 *
 * @module
 */

import type { Messages } from "./en.ts";

/** Les textes français. */
export const fr: Messages = {
  message:
    "Pour vous connecter sur cet appareil, ouvrez {address} dans un navigateur web sur un autre appareil et entrez le code {code}",
  scanQr: "Ou scannez ce code avec un téléphone mobile :",
  address: "Adresse :",
  code: "Code :",
  openComplete: "Ou ouvrez :",
  codeFilledIn: "(le code est déjà rempli)",
  host: "(hôte : {host})",
  waiting: "En attente de la connexion (le code expire dans {time} min)...",
  resuming:
    "En attente de la connexion en cours avec le code {code} sur {address} (elle expire dans {time} min)",
  countdown: "En attente de la connexion dans le navigateur : encore {time}",
  countdownShort: "En attente de la connexion : encore {time}",
  slowDown: "le serveur demande de ralentir : une interrogation toutes les {interval} s",
  retrying: "{reason} ; nouvel essai dans {delay} s",
  pending: "en attente, prochaine interrogation dans {interval} s",
  renewing: "Le code a expiré ; en voici un nouveau ({attempt} sur {max}).",
  finishLater: "Une fois connecté, terminez avec : {command}",
  notApproved:
    "La connexion commencée avec 'deviceflow login --no-wait' n’est pas encore approuvée : ouvrez {address}, entrez le code {code}, puis relancez la commande",
  startingSignIn: "Une connexion est nécessaire ; elle commence",
  otherProcess: "Un autre processus termine cette connexion ; en attente",
  signedIn: "Connecté en tant que {username}.",
  declined: "La connexion a été refusée",
  expired: "Le code d’appareil a expiré avant la fin de la connexion ; recommencez",
  timedOut: "La connexion ne s’est pas terminée dans le délai --timeout ; relancez la commande",
  cancelled: "La connexion a été annulée",
  signInNeeded: "Une connexion est nécessaire ; exécutez : {command}",
  notSignedIn: "Non connecté ; exécutez : deviceflow login",
};
