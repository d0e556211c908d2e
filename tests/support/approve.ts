/**
 * Plays the person with a browser in the device authorization grant: opens the
 * verification page, types the user code, confirms, logs in and consents, using
 * plain HTTP so tests and the demo can approve a sign-in unattended.
 *
 * @module
 */

/** Options for {@linkcode approveDeviceCode}. */
export interface ApproveOptions {
  /** Login name to sign in with; defaults to `"alice"`. */
  login?: string;
  /** Password to sign in with; defaults to an empty string. */
  password?: string;
  /** Click Abort on the confirmation page instead of approving. */
  deny?: boolean;
  /** `fetch` to use; defaults to the global one. */
  fetch?: typeof fetch;
  /** Cancels the walk through the pages. */
  signal?: AbortSignal;
}

/** More pages than any sign-in takes; a server that keeps sending pages is stuck. */
const MAX_PAGES = 20;
const MAX_REDIRECTS = 20;

/** Names and labels of buttons that refuse rather than continue. */
const REFUSE = /\b(abort|deny|cancel|decline|reject)\b/i;
/** Names of inputs that hold the user code. */
const USER_CODE = /user_?code|^code$/i;
/** Words of a page that says the device is signed in. */
const SUCCESS = /success|approved|signed in|you can (now )?close/i;

/**
 * Approves (or denies) a device code the way a person in a browser would: GET
 * the verification page, submit the user code, confirm, log in, consent, and
 * check the success page. Uses only HTTP (a tiny cookie jar, follows redirects
 * by hand, parses the forms' action and hidden inputs from the HTML) and knows
 * pages by their forms rather than by the server's paths.
 *
 * @param verificationUri `verification_uri`, or `verification_uri_complete` with the code in it.
 * @param userCode `user_code` as the client received it.
 * @param options Who signs in, whether to deny, and the `fetch` to use.
 * @returns Once the server showed its success page (or, with `deny`, accepted the abort).
 * @throws {Error} Naming the step that failed, e.g. `Cannot approve device code: step "log in" failed: HTTP 401 ...`.
 * @throws The signal's reason when `options.signal` aborts.
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.3
 *
 * @example Approve a code from a device authorization response
 * ```ts ignore
 * await approveDeviceCode(response.verification_uri, response.user_code, { login: "bob" });
 * ```
 */
export async function approveDeviceCode(
  verificationUri: string,
  userCode: string,
  options: ApproveOptions = {},
): Promise<void> {
  const login = options.login ?? "alice";
  const password = options.password ?? "";
  const browser = new Browser(options.fetch ?? fetch, options.signal);

  let step = "open verification page";
  function fail(reason: string, page?: Page): never {
    // A cancelled walk reports the caller's reason, not a broken step.
    options.signal?.throwIfAborted();
    const text = page ? ` (page says: ${visibleText(page.html).slice(0, 300)})` : "";
    throw new Error(`Cannot approve device code: step "${step}" failed: ${reason}${text}`);
  }

  let page: Page;
  try {
    page = await browser.open(new Request(verificationUri));
  } catch (cause) {
    return fail(String(cause));
  }
  let codeSubmitted = false;
  let loggedIn = false;
  let denied = false;
  for (let n = 0; n < MAX_PAGES; n++) {
    if (!page.ok) fail(`HTTP ${page.status}`, page);
    if (denied) return;

    const forms = parseForms(page.html, page.url);
    const codeForm = forms.find((f) => f.fields.some((i) => i.visible && USER_CODE.test(i.name)));
    const loginForm = forms.find((f) => f.fields.some((i) => i.type === "password"));
    let submission: { form: Form; button: Button | undefined } | undefined;

    if (codeForm) {
      // Seeing the code form again means the server turned the code down.
      if (codeSubmitted) fail("the user code was not accepted", page);
      step = "submit user code";
      for (const field of codeForm.fields) {
        if (field.visible && USER_CODE.test(field.name)) field.value = userCode;
      }
      codeSubmitted = true;
      submission = { form: codeForm, button: codeForm.buttons.find((b) => !isRefusal(b)) };
    } else if (loginForm) {
      if (loggedIn) fail("the login was not accepted", page);
      step = "log in";
      const loginField = loginForm.fields.find((i) =>
        i.visible && i.type !== "password" && i.type !== "checkbox"
      );
      if (loginField) loginField.value = login;
      for (const field of loginForm.fields) {
        if (field.type === "password") field.value = password;
      }
      loggedIn = true;
      submission = { form: loginForm, button: loginForm.buttons.find((b) => !isRefusal(b)) };
    } else if (forms.length > 0) {
      const refusal = options.deny ? findButton(forms, isRefusal) : undefined;
      if (refusal) {
        step = "deny";
        denied = true;
        submission = refusal;
      } else {
        const proceed = findButton(forms, (b) => !isRefusal(b));
        // A form without buttons is an auto-submitting one (a form_post page).
        const form = proceed?.form ?? forms.find((f) => f.buttons.length === 0);
        if (!form) fail("no form on the page lets the sign-in continue", page);
        // The same hidden user code rides on the page that submits it by script
        // (verification_uri_complete) and on the confirmation page after it.
        const carriesCode = form.fields.some((i) => USER_CODE.test(i.name));
        step = carriesCode ? (codeSubmitted ? "confirm device" : "submit user code") : "consent";
        codeSubmitted ||= carriesCode;
        submission = { form, button: proceed?.button };
      }
    } else {
      step = "check success page";
      if (!codeSubmitted) fail("the page has no form to enter the user code", page);
      if (options.deny) fail("the page offered no way to abort", page);
      if (!SUCCESS.test(visibleText(page.html))) fail("the page does not report success", page);
      return;
    }

    try {
      page = await browser.open(submit(submission.form, submission.button));
    } catch (cause) {
      fail(String(cause));
    }
  }
  fail(`gave up after ${MAX_PAGES} pages`);
}

interface Page {
  url: string;
  status: number;
  ok: boolean;
  html: string;
}

/** Just enough of a browser: a cookie jar and redirects followed by hand. */
class Browser {
  readonly #fetch: typeof fetch;
  readonly #signal: AbortSignal | undefined;
  readonly #jar = new CookieJar();

  constructor(fetchFn: typeof fetch, signal: AbortSignal | undefined) {
    this.#fetch = fetchFn;
    this.#signal = signal;
  }

  /** Sends the request, follows redirects and returns the page it ends on. */
  async open(request: Request): Promise<Page> {
    let current = request;
    for (let hops = 0; hops <= MAX_REDIRECTS; hops++) {
      const headers = new Headers(current.headers);
      headers.set("accept", "text/html");
      const cookie = this.#jar.header(new URL(current.url));
      if (cookie) headers.set("cookie", cookie);
      const body = current.body ? await current.arrayBuffer() : undefined;
      const init: RequestInit = { method: current.method, headers, redirect: "manual" };
      if (body !== undefined) init.body = body;
      if (this.#signal) init.signal = this.#signal;
      const response = await this.#fetch(current.url, init);
      this.#jar.store(new URL(current.url), response.headers.getSetCookie());
      const html = await response.text();
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location) {
        const next = new URL(location, current.url).href;
        // 307 and 308 repeat the request; the others turn it into a GET.
        current = response.status === 307 || response.status === 308
          ? new Request(
            next,
            init.body === undefined ? { method: current.method } : {
              method: current.method,
              headers: current.headers,
              body: init.body,
            },
          )
          : new Request(next);
        continue;
      }
      return { url: current.url, status: response.status, ok: response.ok, html };
    }
    throw new Error(`more than ${MAX_REDIRECTS} redirects`);
  }
}

interface Cookie {
  name: string;
  value: string;
  host: string;
  path: string;
  expires: number;
}

/** RFC 6265 cookies, minus the parts a loopback server never uses (domains, Secure). */
class CookieJar {
  #cookies: Cookie[] = [];

  store(url: URL, setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = "", ...attributes] = line.split(";");
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const cookie: Cookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        host: url.host,
        path: url.pathname.slice(0, url.pathname.lastIndexOf("/")) || "/",
        expires: Infinity,
      };
      for (const attribute of attributes) {
        const [key = "", value = ""] = attribute.split("=", 2).map((s) => s.trim());
        switch (key.toLowerCase()) {
          case "path":
            if (value.startsWith("/")) cookie.path = value;
            break;
          case "max-age":
            cookie.expires = Date.now() + Number(value) * 1000;
            break;
          case "expires":
            if (!attributes.some((a) => /^\s*max-age\s*=/i.test(a))) {
              cookie.expires = Date.parse(value);
            }
            break;
        }
      }
      this.#cookies = this.#cookies.filter((c) =>
        !(c.name === cookie.name && c.host === cookie.host && c.path === cookie.path)
      );
      if (!(cookie.expires <= Date.now())) this.#cookies.push(cookie);
    }
  }

  header(url: URL): string {
    const now = Date.now();
    this.#cookies = this.#cookies.filter((c) => !(c.expires <= now));
    return this.#cookies
      .filter((c) => c.host === url.host && pathMatches(url.pathname, c.path))
      // Longer paths first, as browsers send them.
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join("; ");
  }
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  return requestPath === cookiePath ||
    (requestPath.startsWith(cookiePath) &&
      (cookiePath.endsWith("/") || requestPath.charAt(cookiePath.length) === "/"));
}

interface Field {
  name: string;
  type: string;
  value: string;
  visible: boolean;
}

interface Button {
  name: string | undefined;
  value: string;
  label: string;
  formAction: string | undefined;
  formMethod: string | undefined;
}

interface Form {
  action: string;
  method: string;
  fields: Field[];
  buttons: Button[];
}

/**
 * Reads the forms of a page with regular expressions, which is enough for the
 * generated pages of authorization servers. Buttons outside a form that name it
 * with `form="id"` belong to it, as in a browser.
 */
function parseForms(html: string, pageUrl: string): Form[] {
  const forms: Form[] = [];
  const ids = new Map<string, Form>();
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi)) {
    const attributes = parseAttributes(match[1] ?? "");
    const content = match[2] ?? "";
    const form: Form = {
      action: new URL(attributes.get("action") || pageUrl, pageUrl).href,
      method: (attributes.get("method") ?? "get").toUpperCase(),
      fields: [],
      buttons: parseButtons(content, pageUrl),
    };
    for (const input of content.matchAll(/<input\b([^>]*)>/gi)) {
      const a = parseAttributes(input[1] ?? "");
      const name = a.get("name");
      const type = (a.get("type") ?? "text").toLowerCase();
      if (type === "submit" || type === "image") {
        form.buttons.push(buttonFrom(a, a.get("value") ?? "", pageUrl));
        continue;
      }
      if (!name || a.has("disabled")) continue;
      if ((type === "checkbox" || type === "radio") && !a.has("checked")) continue;
      form.fields.push({ name, type, value: a.get("value") ?? "", visible: type !== "hidden" });
    }
    forms.push(form);
    const id = attributes.get("id");
    if (id) ids.set(id, form);
  }
  for (const button of html.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button\s*>/gi)) {
    const a = parseAttributes(button[1] ?? "");
    const owner = ids.get(a.get("form") ?? "");
    if (owner) owner.buttons.push(buttonFrom(a, button[2] ?? "", pageUrl));
  }
  return forms;
}

function parseButtons(content: string, pageUrl: string): Button[] {
  const buttons: Button[] = [];
  for (const match of content.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button\s*>/gi)) {
    const a = parseAttributes(match[1] ?? "");
    // A button that names another form is not this form's, whatever its place.
    if (a.has("form")) continue;
    if ((a.get("type") ?? "submit").toLowerCase() !== "submit") continue;
    buttons.push(buttonFrom(a, match[2] ?? "", pageUrl));
  }
  return buttons;
}

function buttonFrom(a: Map<string, string>, label: string, pageUrl: string): Button {
  const formAction = a.get("formaction");
  return {
    name: a.get("name"),
    value: a.get("value") ?? "",
    label: visibleText(label),
    formAction: formAction ? new URL(formAction, pageUrl).href : undefined,
    formMethod: a.get("formmethod")?.toUpperCase(),
  };
}

function isRefusal(button: Button): boolean {
  return REFUSE.test(button.label) || REFUSE.test(button.name ?? "");
}

function findButton(
  forms: Form[],
  accept: (button: Button) => boolean,
): { form: Form; button: Button } | undefined {
  for (const form of forms) {
    const button = form.buttons.find(accept);
    if (button) return { form, button };
  }
  return undefined;
}

/** Builds the request a browser sends when the button (or Enter) submits the form. */
function submit(form: Form, button: Button | undefined): Request {
  const data = new URLSearchParams();
  for (const field of form.fields) data.append(field.name, field.value);
  if (button?.name) data.append(button.name, button.value);
  const action = button?.formAction ?? form.action;
  const method = button?.formMethod ?? form.method;
  if (method === "POST") {
    return new Request(action, {
      method,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: data.toString(),
    });
  }
  const url = new URL(action);
  url.search = data.toString();
  return new Request(url);
}

function parseAttributes(source: string): Map<string, string> {
  const attributes = new Map<string, string>();
  const pattern = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const match of source.matchAll(pattern)) {
    const name = (match[1] ?? "").toLowerCase();
    if (!attributes.has(name)) {
      attributes.set(name, decodeEntities(match[2] ?? match[3] ?? match[4] ?? ""));
    }
  }
  return attributes;
}

function decodeEntities(text: string): string {
  const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, code: string) => {
    if (code.startsWith("#x") || code.startsWith("#X")) {
      return String.fromCodePoint(parseInt(code.slice(2), 16));
    }
    if (code.startsWith("#")) return String.fromCodePoint(Number(code.slice(1)));
    return named[code.toLowerCase()] ?? entity;
  });
}

/** The text a person would read, for error messages and the success check. */
function visibleText(html: string): string {
  return decodeEntities(
    html
      .replace(/<(script|style|head)\b[\s\S]*?<\/\1\s*>/gi, " ")
      .replace(/<[^>]*>/g, " "),
  ).replace(/\s+/g, " ").trim();
}

const USAGE =
  `Usage: deno task approve [--authority URL | --address URL] [--login NAME] [--deny] CODE

Approves (or, with --deny, declines) a pending device code at the dev server, as the
person in the browser would, so that every path can be tried without a browser:

  deno task dev-server                      # prints its address
  deno task deviceflow login --authority http://127.0.0.1:PORT --client-id deviceflow-dev
  deno task approve ABCD-EFGH               # in another terminal

  --authority URL   The dev server (its verification page is URL/device); default
                    DEVICEFLOW_AUTHORITY, else the dev server running on this machine
  --address URL     The verification address itself, for another server
  --login NAME      Who signs in (default alice)
  --deny            Decline instead of approving
`;

/** The issuer of the dev server running on this machine, from the file it keeps. */
async function runningDevServer(): Promise<string | undefined> {
  const { DEV_SERVER_STATE } = await import("./dev_server.ts");
  try {
    const issuer = JSON.parse(await Deno.readTextFile(DEV_SERVER_STATE)).issuer;
    return typeof issuer === "string" ? issuer : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `deno task approve`: approves or declines a code from the command line.
 *
 * @param args The command line.
 * @returns The exit code: 0 done, 1 the pages did not lead there, 2 usage.
 */
export async function main(args: string[]): Promise<number> {
  const { parseArgs } = await import("node:util");
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        authority: { type: "string" },
        address: { type: "string" },
        login: { type: "string" },
        deny: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    console.error(`approve: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const authority = values.authority ?? Deno.env.get("DEVICEFLOW_AUTHORITY") ??
    await runningDevServer();
  const address = values.address ??
    (authority ? `${authority.replace(/\/+$/, "")}/device` : undefined);
  if (positionals.length !== 1 || !address) {
    console.error(`approve: give the code, and --authority or --address\n\n${USAGE}`);
    return 2;
  }
  try {
    await approveDeviceCode(address, positionals[0]!, {
      ...(values.login ? { login: values.login } : {}),
      ...(values.deny ? { deny: true } : {}),
    });
  } catch (error) {
    console.error(`approve: ${(error as Error).message}`);
    return 1;
  }
  console.error(values.deny ? `Declined ${positionals[0]}` : `Approved ${positionals[0]}`);
  return 0;
}
