/**
 * 简体中文的登录交互（术语与 Microsoft 设备代码流文档一致）。
 *
 * @module
 */

import type { Messages } from "./en.ts";

/** 简体中文文本。 */
export const zh: Messages = {
  message: "若要在此设备上登录，请在另一台设备的 Web 浏览器中打开 {address} 并输入代码 {code}",
  scanQr: "或用手机扫描此代码：",
  address: "地址：",
  code: "代码：",
  openComplete: "或打开：",
  codeFilledIn: "（已填入代码）",
  host: "（主机：{host}）",
  waiting: "正在等待登录（代码将在 {time} 分钟后过期）...",
  resuming: "正在等待代码为 {code} 的待完成登录，地址 {address}（{time} 分钟后过期）",
  countdown: "正在等待在浏览器中登录：剩余 {time}",
  countdownShort: "正在等待登录：剩余 {time}",
  slowDown: "服务器要求降低轮询频率：每 {interval} 秒一次",
  retrying: "{reason}；{delay} 秒后重试",
  pending: "等待中，{interval} 秒后再次轮询",
  renewing: "代码已过期；这是新的代码（第 {attempt} 个，共 {max} 个）。",
  finishLater: "登录后，请运行以下命令完成：{command}",
  notApproved:
    "通过 'deviceflow login --no-wait' 开始的登录尚未获得批准：请打开 {address} 并输入代码 {code}，然后重新运行此命令",
  startingSignIn: "需要登录；正在开始登录",
  otherProcess: "另一个进程正在完成此登录；正在等待",
  signedIn: "已登录为 {username}。",
  declined: "登录已被拒绝",
  expired: "设备代码在登录完成前已过期；请重新开始",
  timedOut: "登录未在 --timeout 时间内完成；请重新运行该命令",
  cancelled: "登录已取消",
  signInNeeded: "需要登录；请运行：{command}",
  notSignedIn: "尚未登录；请运行：deviceflow login",
};
