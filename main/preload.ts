/**
 * Runs sandboxed with contextIsolation: exposes one function per Api method
 * (never ipcRenderer itself), the run event stream and menu commands.
 */
import { contextBridge, type IpcRendererEvent, ipcRenderer } from "electron";
import { API_METHODS } from "../app/api/api-methods";
import {
  channelOf,
  IPC_EVENTS,
  IPC_MENU,
  IPC_PICK_DATA_FILE,
  type IpcReply,
  type MenuMessage,
  type PickedFile,
} from "../app/api/ipc-contract";

const api = Object.fromEntries(
  API_METHODS.map((method) => [
    method,
    (args: unknown): Promise<IpcReply> => ipcRenderer.invoke(channelOf(method), args),
  ]),
);

function subscribe<T>(channel: string, listener: (value: T) => void): () => void {
  const handler = (_e: IpcRendererEvent, value: T) => listener(value);
  ipcRenderer.on(channel, handler);
  return () => ipcRenderer.removeListener(channel, handler);
}

contextBridge.exposeInMainWorld("dagwood", {
  api,
  onEvent: (listener: (event: unknown) => void) => subscribe(IPC_EVENTS, listener),
  onMenu: (listener: (message: MenuMessage) => void) => subscribe(IPC_MENU, listener),
  pickDataFile: (): Promise<PickedFile | null> => ipcRenderer.invoke(IPC_PICK_DATA_FILE),
});
