/**
 * Links that leave the app: only http(s) addresses, and only after the user
 * said yes to a dialog naming the site (Electron's security checklist, "Do
 * not use shell.openExternal with untrusted content": another scheme can
 * start any program registered for it). No Electron here: main.ts shows the
 * dialog these functions describe.
 */

/** Longer addresses are refused: nobody can read them in a dialog. */
export const MAX_EXTERNAL_URL_LENGTH = 2048;

/**
 * The address to offer opening in the system browser, or null when it is not
 * one: only http: and https: with a host name, without a user name or
 * password, at most MAX_EXTERNAL_URL_LENGTH characters.
 */
export function externalLink(raw: string): URL | null {
  if (raw.length > MAX_EXTERNAL_URL_LENGTH) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (!url.hostname || url.username || url.password) return null;
  return url;
}

export interface ExternalLinkPrompt {
  type: "question";
  title: string;
  message: string;
  detail: string;
  buttons: [string, string];
  /** "Cancel" is what Enter and Escape choose. */
  defaultId: 1;
  cancelId: 1;
}

/**
 * The question asked before opening `url`: the host name as the URL parser
 * writes it (an international name in its punycode form, so a look-alike
 * shows), the full address below, "Cancel" the default.
 */
export function externalLinkPrompt(url: URL): ExternalLinkPrompt {
  return {
    type: "question",
    title: "Open in your browser?",
    message: `Open ${url.host} in your browser?`,
    detail: `${url.protocol === "http:" ? "Not encrypted (http). " : ""}The full address:\n${url.href}`,
    buttons: ["Open in browser", "Cancel"],
    defaultId: 1,
    cancelId: 1,
  };
}

/** Button 0 of the prompt opens the link. */
export const OPEN_BUTTON = 0;
