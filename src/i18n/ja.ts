/**
 * 日本語のサインイン (用語は Microsoft のデバイス コード フローのドキュメントに合わせています)。
 *
 * @module
 */

import type { Messages } from "./en.ts";

/** 日本語のメッセージ。 */
export const ja: Messages = {
  message:
    "このデバイスでサインインするには、別のデバイスの Web ブラウザーで {address} を開き、コード {code} を入力してください",
  scanQr: "または、携帯電話でこのコードをスキャンしてください:",
  address: "アドレス:",
  code: "コード:",
  openComplete: "または次を開く:",
  codeFilledIn: "(コードは入力済みです)",
  host: "(ホスト: {host})",
  waiting: "サインインを待っています (コードの有効期限まであと {time} 分)...",
  resuming:
    "コード {code} による保留中のサインインを {address} で待っています (有効期限まであと {time} 分)",
  countdown: "ブラウザーでのサインインを待っています: 残り {time}",
  countdownShort: "サインインを待っています: 残り {time}",
  slowDown: "サーバーからポーリング間隔を延ばすよう要求されました: {interval} 秒ごと",
  retrying: "{reason}。{delay} 秒後に再試行します",
  pending: "保留中です。次のポーリングは {interval} 秒後",
  renewing: "コードの有効期限が切れました。新しいコードです ({attempt}/{max})。",
  finishLater: "サインインしたら、次のコマンドで完了してください: {command}",
  notApproved:
    "'deviceflow login --no-wait' で開始したサインインはまだ承認されていません。{address} を開いてコード {code} を入力し、もう一度実行してください",
  startingSignIn: "サインインが必要です。サインインを開始します",
  otherProcess: "別のプロセスがこのサインインを完了しています。待機しています",
  signedIn: "{username} としてサインインしました。",
  declined: "サインインは拒否されました",
  expired:
    "サインインが完了する前にデバイス コードの有効期限が切れました。もう一度やり直してください",
  timedOut:
    "--timeout の時間内にサインインが完了しませんでした。コマンドをもう一度実行してください",
  cancelled: "サインインは取り消されました",
  signInNeeded: "サインインが必要です。次を実行してください: {command}",
  notSignedIn: "サインインしていません。次を実行してください: deviceflow login",
};
