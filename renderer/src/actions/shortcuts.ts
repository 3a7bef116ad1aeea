/** Key combinations as text ("Mod+Shift+Z"), matched against keyboard events and shown to the user. */

const isMac = typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform);

interface Combo {
  key: string;
  mod: boolean;
  ctrl: boolean;
  shift: boolean;
  alt: boolean;
}

function parse(shortcut: string): Combo {
  const parts = shortcut.split("+");
  const key = parts.pop()!.toLowerCase();
  return {
    key,
    mod: parts.includes("Mod"),
    ctrl: parts.includes("Ctrl"),
    shift: parts.includes("Shift"),
    alt: parts.includes("Alt"),
  };
}

export function matchesShortcut(shortcut: string, e: KeyboardEvent): boolean {
  const c = parse(shortcut);
  const mod = isMac ? e.metaKey : e.ctrlKey;
  // "Ctrl+Y" means the Control key itself, on every platform.
  const ctrlWanted = c.ctrl || (c.mod && !isMac);
  const metaWanted = c.mod && isMac;
  if (c.mod && !mod) return false;
  if (e.ctrlKey !== ctrlWanted || e.metaKey !== metaWanted) return false;
  if (e.shiftKey !== c.shift || e.altKey !== c.alt) return false;
  if (e.key.toLowerCase() === c.key) return true;
  // With Alt (Option on macOS) a letter key types another character ("Mod+Alt+N" gives "˜"): match the key itself.
  return c.alt && /^[a-z]$/.test(c.key) && e.code === `Key${c.key.toUpperCase()}`;
}

const SYMBOLS: Record<string, string> = { Enter: "↵", Delete: "Del", Backspace: "⌫" };

/** "Mod+Shift+Z" → "Ctrl+Shift+Z" or "⌘⇧Z". */
export function formatShortcut(shortcut: string): string {
  const parts = shortcut.split("+").map((p) => SYMBOLS[p] ?? p);
  if (!isMac) return parts.map((p) => (p === "Mod" ? "Ctrl" : p)).join("+");
  const mac: Record<string, string> = { Mod: "⌘", Shift: "⇧", Alt: "⌥", Ctrl: "⌃" };
  return parts.map((p) => mac[p] ?? p).join("");
}
