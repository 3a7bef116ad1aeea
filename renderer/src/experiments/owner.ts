/**
 * Whose run it is, as the runs table and the run detail show it: `user@machine` (ownerLabel,
 * shared with `dagwood runs list`), the full names in the tooltip; and the "Only my runs"
 * choice, remembered across sessions.
 */
import type { RunOwner } from "../../../app/api/api";

export { ownerLabel } from "../../../app/values/run-owner";

/** The tooltip: "ana on ws-1.lab.example", with what is unknown said so. */
export function ownerTitle(owner: { user: string | null; host: string | null }): string {
  const user = owner.user ?? "an unknown user";
  const host = owner.host ?? "a machine not recorded (a run from before machines were kept)";
  return `${user} on ${host}`;
}

/** Why "Only my runs" is on offer, or cannot be: the user the engine records runs under. */
export function mineTitle(me: RunOwner | null): string {
  if (!me) return "Show only the runs you started";
  if (!me.user)
    return "Dagwood does not know your user name: set DAGWOOD_USER before starting the app to filter to your runs";
  return `Show only the runs started by ${me.user} (on any machine)`;
}

const MINE_KEY = "dagwood.runs.mine";

function storage(): Storage | undefined {
  try {
    return typeof window === "undefined" ? undefined : window.localStorage;
  } catch {
    return undefined;
  }
}

/** Whether "Only my runs" was left on. */
export function loadMine(store: Pick<Storage, "getItem"> | undefined = storage()): boolean {
  try {
    return store?.getItem(MINE_KEY) === "true";
  } catch {
    return false;
  }
}

/** Remembers "Only my runs" for the next start. */
export function saveMine(
  mine: boolean,
  store: Pick<Storage, "setItem" | "removeItem"> | undefined = storage(),
): void {
  try {
    if (mine) store?.setItem(MINE_KEY, "true");
    else store?.removeItem(MINE_KEY);
  } catch {
    // Storage full or refused: the choice still holds for this session.
  }
}
