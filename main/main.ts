/**
 * The Electron main process: one window with contextIsolation, sandbox and no
 * Node integration, the page served from its own `app://dagwood` scheme
 * (page-protocol.ts) under a strict CSP, navigation and new windows blocked,
 * links to the web opened in the browser only after asking
 * (external-links.ts), every permission request denied, DevTools only in
 * development; native menus and dialogs. The engine does not run here: it
 * is its own process (engine-host.ts, an Electron utilityProcess) that this
 * one reaches over a MessagePort (app/api/port-rpc.ts), relaying the
 * window's IPC calls (after the sender check) and the run events, so a run
 * never stalls the window, the menus or the IPC. The packaged binary's fuses (no
 * ELECTRON_RUN_AS_NODE, no NODE_OPTIONS, encrypted cookies, the app only
 * from its asar) are set in electron-builder.yml.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  app,
  BrowserWindow,
  dialog,
  type IpcMainInvokeEvent,
  ipcMain,
  Menu,
  type MenuItemConstructorOptions,
  MessageChannelMain,
  protocol,
  screen,
  session,
  shell,
  type UtilityProcess,
  utilityProcess,
} from "electron";
import type { ProjectInfo } from "../app/api/api";
import { API_METHODS } from "../app/api/api-methods";
import { CONTENT_SECURITY_POLICY } from "../app/api/csp";
import {
  channelOf,
  IPC_EVENTS,
  IPC_MENU,
  IPC_PICK_DATA_FILE,
  type IpcReply,
  type MenuMessage,
  type PickedFile,
} from "../app/api/ipc-contract";
import { connectPort, PortCallError, type PortClient } from "../app/api/port-rpc";
import { DATA_FILE_EXTENSIONS, projectRelativePath } from "./data-file-path";
import { type EngineControl, electronPortEnd } from "./electron-port";
import { engineEnv } from "./engine-env";
import { externalLink, externalLinkPrompt, OPEN_BUTTON } from "./external-links";
import { isPageUrl, PAGE_SCHEME, pageResponse, pageUrl } from "./page-protocol";
import { windowSize } from "./window-size";

const here = dirname(fileURLToPath(import.meta.url));
/** The built renderer, served as app://dagwood/ (page-protocol.ts). */
const RENDERER_DIR = join(here, "..", "renderer");
const RECENT_FILE = () => join(app.getPath("userData"), "recent-projects.json");
const MAX_RECENT = 10;

let win: BrowserWindow | null = null;

interface Engine {
  child: UtilityProcess;
  client: PortClient;
}
let engine: Engine | undefined;
/** Set once the app quits: the engine's exit is then expected, not an error to show. */
let quitting = false;

/** How long the engine may take to start and open the project before the app gives up and says why. */
const ENGINE_READY_MS = 60_000;

/**
 * Forks the engine process and hands it one end of a MessageChannelMain for
 * the Api; answers once it serves, with why the project did not open, if it did not.
 */
function startEngine(projectDir: string | undefined): Promise<{ engine: Engine; projectError?: string }> {
  const { port1, port2 } = new MessageChannelMain();
  const child = utilityProcess.fork(join(here, "engine.mjs"), [], {
    serviceName: "Dagwood engine",
    env: engineEnv(process.env, process.platform),
  });
  const client = connectPort(electronPortEnd(port1));
  client.onEvent((e) => win?.webContents.send(IPC_EVENTS, e));
  return new Promise((resolve, reject) => {
    // An engine that never answers (stuck opening a project on a hung network drive) must not leave
    // the app without a window and without a word.
    const timer = setTimeout(() => {
      reject(
        new Error(
          `The Dagwood engine did not start within ${ENGINE_READY_MS / 1000} s${projectDir ? ` (opening ${projectDir})` : ""}. Check that the project folder is reachable, then start Dagwood again.`,
        ),
      );
      child.kill();
    }, ENGINE_READY_MS);
    child.on("message", (message: EngineControl) => {
      if (message?.type === "ready") {
        clearTimeout(timer);
        resolve({ engine: { child, client }, projectError: message.projectError });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      client.close(`The Dagwood engine stopped (exit code ${code}). Restart Dagwood.`);
      reject(new Error(`The Dagwood engine exited with code ${code} before it was ready`));
      if (!quitting && engine?.child === child)
        dialog.showErrorBox(
          "The Dagwood engine stopped",
          `The engine process exited with code ${code}. Runs in progress were interrupted; restart Dagwood to go on.`,
        );
    });
    child.postMessage({ type: "start", projectDir } satisfies EngineControl, [port2]);
  });
}

/** Calls the engine (main's own calls, e.g. a dialog's default folder). */
function callEngine(method: string, args: unknown): Promise<unknown> {
  if (!engine) return Promise.reject(new PortCallError(500, "The Dagwood engine is not running"));
  return engine.client.call(method, args);
}

function readRecent(): string[] {
  try {
    const list = JSON.parse(readFileSync(RECENT_FILE(), "utf8"));
    return Array.isArray(list)
      ? list.filter((x): x is string => typeof x === "string").slice(0, MAX_RECENT)
      : [];
  } catch {
    return [];
  }
}

function rememberProject(dir: string) {
  const list = [dir, ...readRecent().filter((d) => d !== dir)].slice(0, MAX_RECENT);
  writeFileSync(RECENT_FILE(), JSON.stringify(list));
  app.addRecentDocument(dir);
  buildMenu();
}

const send = (message: MenuMessage) => win?.webContents.send(IPC_MENU, message);

/** Only our own page may call the Api: a frame from anywhere else gets nothing. */
function trusted(event: IpcMainInvokeEvent): boolean {
  return isPageUrl(event.senderFrame?.url);
}

/** Whether the question of askToOpenExternal is on screen: a page cannot stack up more of them. */
let askingToOpen = false;

/** Opens an http(s) link in the system browser once the user said yes; anything else is dropped. */
async function askToOpenExternal(raw: string): Promise<void> {
  const url = externalLink(raw);
  if (!url || askingToOpen) return;
  askingToOpen = true;
  try {
    const prompt = externalLinkPrompt(url);
    const { response } = win ? await dialog.showMessageBox(win, prompt) : await dialog.showMessageBox(prompt);
    if (response === OPEN_BUTTON) await shell.openExternal(url.href);
  } finally {
    askingToOpen = false;
  }
}

function registerIpc() {
  for (const method of API_METHODS) {
    // One handler per method; core.call validates the arguments with the method's zod schema.
    ipcMain.handle(channelOf(method), async (event, args: unknown): Promise<IpcReply> => {
      if (!trusted(event))
        return { ok: false, status: 403, error: "Calls are accepted from the app's own page only" };
      try {
        // The engine process validates the arguments (core.call) and keeps each error's status.
        return { ok: true, result: await callEngine(method, args) };
      } catch (e) {
        const status = e instanceof PortCallError ? e.status : 500;
        return { ok: false, status, error: (e as Error).message };
      }
    });
  }
  ipcMain.handle(IPC_PICK_DATA_FILE, (event) => pickDataFile(event));
}

/** Whether a data-file dialog is on screen: a page cannot stack up more of them. */
let pickingFile = false;

/** The open dialog for ingest.file's path: the chosen file relative to the project, or null. */
async function pickDataFile(event: IpcMainInvokeEvent): Promise<PickedFile | null> {
  if (!trusted(event) || !win || pickingFile) return null;
  const project = (await callEngine("getProject", {}).catch(() => null)) as ProjectInfo | null;
  if (!project) return null;
  pickingFile = true;
  try {
    const r = await dialog.showOpenDialog(win, {
      title: "Choose a data file",
      defaultPath: project.dir,
      properties: ["openFile"],
      filters: [
        { name: "Data files", extensions: DATA_FILE_EXTENSIONS },
        { name: "All files", extensions: ["*"] },
      ],
    });
    const chosen = r.filePaths[0];
    if (r.canceled || !chosen) return null;
    const path = projectRelativePath(project.dir, chosen);
    if (path === undefined) {
      dialog.showErrorBox(
        "Cannot use that file",
        `${chosen} cannot be written relative to the project ${project.dir} (another drive?). Copy it into the project, or add its folder to dataFolders in dagwood.json.`,
      );
      return null;
    }
    return { path };
  } finally {
    pickingFile = false;
  }
}

async function openProjectDialog() {
  if (!win) return;
  const r = await dialog.showOpenDialog(win, { title: "Open project folder", properties: ["openDirectory"] });
  const dir = r.filePaths[0];
  if (r.canceled || !dir) return;
  await openProject(dir);
}

/** The renderer opens it: it first asks whether to drop unsaved changes. */
function openProject(dir: string) {
  rememberProject(dir);
  send({ command: "openProject", path: dir });
}

async function saveDialog(command: "saveAs" | "new") {
  if (!win) return;
  // The project is the engine's: ask it (no answer, no default folder).
  const project = (await callEngine("getProject", {}).catch(() => null)) as ProjectInfo | null;
  const r = await dialog.showSaveDialog(win, {
    title: command === "new" ? "New pipeline" : "Save pipeline as",
    defaultPath: project?.dir,
    filters: [{ name: "Dagwood pipeline", extensions: ["dag.json"] }],
  });
  if (!r.canceled && r.filePath) send({ command, path: r.filePath });
}

/**
 * A shortcut the editor itself handles (its actions take these keys): shown
 * in the menu but not registered, so one key press does not act twice.
 */
const rendererKey = (accelerator: string) => ({ accelerator, registerAccelerator: false });

function buildMenu() {
  const mac = process.platform === "darwin";
  const recent: MenuItemConstructorOptions[] = readRecent().map((dir) => ({
    label: dir,
    click: () => openProject(dir),
  }));
  const template: MenuItemConstructorOptions[] = [
    ...(mac ? [{ role: "appMenu" as const }] : []),
    {
      label: "File",
      submenu: [
        { label: "New Pipeline…", accelerator: "CmdOrCtrl+N", click: () => saveDialog("new") },
        { label: "Open Pipeline…", ...rendererKey("CmdOrCtrl+O"), click: () => send({ command: "open" }) },
        { label: "Open Project…", accelerator: "CmdOrCtrl+Shift+O", click: () => openProjectDialog() },
        { label: "Recent Projects", submenu: recent.length ? recent : [{ label: "None", enabled: false }] },
        { type: "separator" },
        { label: "Save", ...rendererKey("CmdOrCtrl+S"), click: () => send({ command: "save" }) },
        { label: "Save As…", accelerator: "CmdOrCtrl+Shift+S", click: () => saveDialog("saveAs") },
        // The renderer downloads the canonical JSON; Electron asks where to save it.
        { label: "Export JSON…", click: () => send({ command: "exportJson" }) },
        { type: "separator" },
        mac ? { role: "close" } : { role: "quit" },
      ],
    },
    {
      label: "Edit",
      submenu: [
        // The editor keeps its own history: these go to it, not to the web contents.
        { label: "Undo", ...rendererKey("CmdOrCtrl+Z"), click: () => send({ command: "undo" }) },
        { label: "Redo", ...rendererKey("CmdOrCtrl+Shift+Z"), click: () => send({ command: "redo" }) },
        { type: "separator" },
        { role: "cut" },
        { role: "copy" },
        { role: "paste" },
        { role: "selectAll" },
      ],
    },
    {
      label: "Run",
      submenu: [
        { label: "Run", ...rendererKey("CmdOrCtrl+Enter"), click: () => send({ command: "run" }) },
        { label: "Stop", ...rendererKey("CmdOrCtrl+."), click: () => send({ command: "stop" }) },
      ],
    },
    {
      label: "View",
      // DevTools only while developing: a packaged app has none to open.
      submenu: app.isPackaged
        ? [{ role: "reload" }, { role: "togglefullscreen" }]
        : [{ role: "reload" }, { role: "toggleDevTools" }, { role: "togglefullscreen" }],
    },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

function createWindow() {
  win = new BrowserWindow({
    ...windowSize(screen.getPrimaryDisplay().workAreaSize),
    title: "Dagwood",
    show: false,
    webPreferences: {
      preload: join(here, "preload.js"),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
      devTools: !app.isPackaged,
    },
  });
  win.once("ready-to-show", () => win?.show());
  // The app is one page: any navigation or new window is refused; a web link is offered to the system
  // browser, after asking.
  win.webContents.on("will-navigate", (event, url) => {
    if (isPageUrl(url)) return;
    event.preventDefault();
    void askToOpenExternal(url);
  });
  win.webContents.setWindowOpenHandler(({ url }) => {
    void askToOpenExternal(url);
    return { action: "deny" };
  });
  // The renderer asks before leaving with unsaved changes (beforeunload); Electron leaves the asking to us.
  win.webContents.on("will-prevent-unload", (event) => {
    const choice = dialog.showMessageBoxSync(win!, {
      type: "question",
      buttons: ["Discard changes", "Keep editing"],
      defaultId: 1,
      cancelId: 1,
      title: "Unsaved changes",
      message: "The pipeline has unsaved changes. Close it and lose them?",
    });
    if (choice === 0) event.preventDefault();
  });
  win.on("closed", () => {
    win = null;
  });
  const pipeline = process.argv.find((a) => a.startsWith("--pipeline="))?.slice("--pipeline=".length);
  void win.loadURL(pageUrl(pipeline));
}

async function start() {
  const projectArg = process.argv.find((a) => a.startsWith("--project="))?.slice("--project=".length);
  const projectDir = projectArg ?? readRecent()[0];
  const started = await startEngine(projectDir);
  engine = started.engine;
  // A project that moved or broke does not keep the app from starting: the engine opens without one; say why.
  if (started.projectError) dialog.showErrorBox("Cannot open project", started.projectError);
  registerIpc();
  // The page and its files, from the renderer's folder only (paths that leave it are refused).
  protocol.handle(PAGE_SCHEME, (request) =>
    pageResponse(RENDERER_DIR, request.url, (file) => readFile(file)),
  );
  // page-protocol.ts sends the CSP with each file; this covers any other response too.
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({
      responseHeaders: { ...details.responseHeaders, "Content-Security-Policy": [CONTENT_SECURITY_POLICY] },
    });
  });
  // The app needs no permission (camera, notifications, clipboard reads, …): every request and check is no.
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  session.defaultSession.setDevicePermissionHandler(() => false);
  buildMenu();
  createWindow();
}

// Before ready: app:// is a standard, secure origin (CSP 'self', fetch and module scripts work as on https).
protocol.registerSchemesAsPrivileged([
  {
    scheme: PAGE_SCHEME,
    privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true },
  },
]);
app.enableSandbox();
app.on("web-contents-created", (_e, contents) => {
  contents.on("will-attach-webview", (event) => event.preventDefault());
});
app
  .whenReady()
  .then(start)
  .catch((e) => {
    dialog.showErrorBox("Dagwood could not start", String((e as Error)?.stack ?? e));
    app.exit(1);
  });
/** How long the engine may take to close (runs canceled, the project and servers closed) before it is killed. */
const ENGINE_CLOSE_MS = 15_000;

/** Closes the engine once (runs, the project, the built-in local deploy server), whichever way the app ends. */
let apiClosed: Promise<void> | null = null;
const closeApi = (): Promise<void> => {
  quitting = true;
  const running = engine;
  apiClosed ??= !running
    ? Promise.resolve()
    : new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          running.child.kill();
          resolve();
        }, ENGINE_CLOSE_MS);
        running.child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        running.child.postMessage({ type: "close" } satisfies EngineControl);
      });
  return apiClosed;
};
app.on("window-all-closed", async () => {
  await closeApi();
  app.quit();
});
// Cmd+Q / app.quit() skip window-all-closed: hold the quit until the core (and its servers) closed.
let closedForQuit = false;
app.on("will-quit", (event) => {
  if (closedForQuit) return;
  event.preventDefault();
  void closeApi().finally(() => {
    closedForQuit = true;
    app.quit();
  });
});
app.on("activate", () => {
  if (BrowserWindow.getAllWindows().length === 0) createWindow();
});
