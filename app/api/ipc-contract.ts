/**
 * The IPC contract between the preload and the main process: one channel per
 * Api method, replies wrapped so an error keeps its status across the bridge.
 */
import type { ApiMethod } from "./api-methods";

export const IPC_PREFIX = "dagwood:api:";
export const IPC_EVENTS = "dagwood:event";
export const IPC_MENU = "dagwood:menu";
/** The desktop app's file dialog for a data file: answers `PickedFile | null` (canceled). */
export const IPC_PICK_DATA_FILE = "dagwood:pickDataFile";

/** A file chosen in the desktop dialog, as `ingest.file` takes it: relative to the project, with "/". */
export interface PickedFile {
  path: string;
}

export const channelOf = (method: ApiMethod) => `${IPC_PREFIX}${method}`;

export type IpcReply = { ok: true; result: unknown } | { ok: false; status: number; error: string };

/** Menu commands the main process sends the renderer; each names an editor action. */
export const MENU_COMMANDS = [
  "new",
  "open",
  "save",
  "saveAs",
  "exportJson",
  "undo",
  "redo",
  "run",
  "stop",
  "openProject",
] as const;
export type MenuCommand = (typeof MENU_COMMANDS)[number];
export interface MenuMessage {
  command: MenuCommand;
  /** A path chosen in a dialog, for new, saveAs and openProject. */
  path?: string;
}
