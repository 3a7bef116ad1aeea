/**
 * Copies text for the user and says so, or says why not and what to do. The Clipboard API exists
 * only in a secure context (https, or http on localhost; MDN "Clipboard API"): browser mode served
 * with --host to another machine over http has no navigator.clipboard, and a Copy button that
 * did nothing there left the user waiting.
 */
import { toast } from "../store/toasts";

export async function copyText(
  text: string,
  what: string,
  clipboard: Pick<Clipboard, "writeText"> | undefined = globalThis.navigator?.clipboard,
): Promise<boolean> {
  if (!clipboard) {
    toast(
      `Could not copy the ${what}: this page may not use the clipboard (it is not served over https or from this machine). Select the text and copy it.`,
      "error",
    );
    return false;
  }
  try {
    await clipboard.writeText(text);
    toast(`${what[0]!.toUpperCase()}${what.slice(1)} copied`);
    return true;
  } catch (e) {
    toast(
      `Could not copy the ${what} (${e instanceof Error ? e.message : String(e)}): select the text and copy it.`,
      "error",
    );
    return false;
  }
}
