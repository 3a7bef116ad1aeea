/**
 * A modal dialog keeps the keyboard focus (WAI-ARIA dialog pattern,
 * https://www.w3.org/WAI/ARIA/apg/patterns/dialog-modal/): Tab from its last control goes to its
 * first, Shift+Tab from its first to its last, and on closing the focus goes back to the control
 * that opened it (Alias…, Deploy…), not to the top of the page.
 */
import { type RefObject, useEffect, useRef, useState } from "react";

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Where Tab (or Shift+Tab) must send the focus to stay in the dialog, or null where the browser's own move stays in it. */
export function wrapFocus<T>(focusables: readonly T[], current: T | null, shift: boolean): T | null {
  if (!focusables.length) return null;
  const first = focusables[0]!;
  const last = focusables[focusables.length - 1]!;
  const at = current === null ? -1 : focusables.indexOf(current);
  if (at === -1) return shift ? last : first;
  if (shift && at === 0) return last;
  if (!shift && at === focusables.length - 1) return first;
  return null;
}

export function useFocusTrap<T extends HTMLElement>(): RefObject<T | null> {
  const ref = useRef<T | null>(null);
  // Read while rendering, before the dialog's autoFocus field takes the focus.
  const [opener] = useState(() =>
    document.activeElement instanceof HTMLElement ? document.activeElement : null,
  );
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const focusables = () =>
      Array.from(dialog.querySelectorAll<HTMLElement>(FOCUSABLE)).filter(
        (el) => el.getClientRects().length > 0,
      );
    // A dialog whose fields did not take the focus themselves (autoFocus) takes it.
    if (!dialog.contains(document.activeElement)) (focusables()[0] ?? dialog).focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Tab") return;
      const active = document.activeElement instanceof HTMLElement ? document.activeElement : null;
      const to = wrapFocus(focusables(), active, e.shiftKey);
      if (!to) return;
      e.preventDefault();
      to.focus();
    };
    dialog.addEventListener("keydown", onKey);
    return () => {
      dialog.removeEventListener("keydown", onKey);
      // Back to the opener when the focus would otherwise fall to the page (the dialog is gone).
      const lost =
        !document.activeElement ||
        document.activeElement === document.body ||
        dialog.contains(document.activeElement);
      if (lost && opener?.isConnected) opener.focus();
    };
  }, [opener]);
  return ref;
}
