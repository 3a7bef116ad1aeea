/** Opening the project and its pipelines, and saving the document as the canonical file. */
import { api } from "../api/client";
import { locateProblem } from "../document/problems";
import { asEditableDocument, pipelineName } from "../document/shape";
import { useCatalog } from "../store/catalog";
import { selectDirty, useEditor } from "../store/editor";
import { isRunActive, useRun } from "../store/run";
import { toast } from "../store/toasts";
import { useUi } from "../store/ui";
import { useValidation } from "../store/validation";
import { reportError } from "./errors";
import { loadEarlierOutputs } from "./runner";

const LAST_PIPELINE_KEY = "dagwood.lastPipeline";

/** Reads the project and the catalog, then opens the pipeline named in the URL, the last one, or the first. */
export async function loadProject(): Promise<void> {
  try {
    const [project, blocks] = await Promise.all([api.getProject({}), api.listBlocks({})]);
    useCatalog.getState().setBlocks(blocks);
    useCatalog.getState().setProject(project);
    if (!project) return;
    const wanted = new URL(window.location.href).searchParams.get("pipeline");
    const last = localStorage.getItem(LAST_PIPELINE_KEY);
    const path = [wanted, last].find((p) => p && project.pipelines.includes(p)) ?? project.pipelines[0];
    if (path) await openPipeline(path, { force: true });
  } catch (e) {
    reportError(e, "Could not open the project");
  }
}

export async function refreshProject(): Promise<void> {
  try {
    useCatalog.getState().setProject(await api.getProject({}));
  } catch (e) {
    reportError(e);
  }
}

/** Opens a pipeline file. Problems are listed, never fatal: the file is kept as it is. */
export async function openPipeline(path: string, { force = false } = {}): Promise<boolean> {
  const editor = useEditor.getState();
  if (!force && selectDirty(editor) && !window.confirm("Discard the unsaved changes to this pipeline?"))
    return false;
  if (isRunActive(useRun.getState().status)) {
    toast("A run is in progress: stop it before opening another pipeline.", "error");
    return false;
  }
  try {
    const loaded = await api.loadPipeline({ path });
    const document = asEditableDocument(loaded.document);
    useEditor.getState().open(path, document, loaded.text);
    useValidation.getState().setCache({});
    useValidation
      .getState()
      .setProblems(loaded.problems.map((p) => (document ? locateProblem(document, p) : p)));
    useRun.setState({ runId: null, status: "idle", nodes: {}, outputs: {}, editedSinceRun: false });
    useUi.setState({ dataPort: null });
    if (loaded.problems.length) useUi.getState().showTab("problems");
    localStorage.setItem(LAST_PIPELINE_KEY, path);
    if (document) void loadEarlierOutputs(pipelineName(document, path));
    return true;
  } catch (e) {
    reportError(e, `Could not open ${path}`);
    return false;
  }
}

/** Saves the document; the core writes the canonical file. */
export async function savePipeline(): Promise<void> {
  const { document, path } = useEditor.getState();
  if (!document || !path) {
    toast("Nothing to save: this file is shown as text and is left untouched.", "error");
    return;
  }
  try {
    await api.savePipeline({ path, document });
    useEditor.getState().markSaved(document);
    toast(`Saved ${path}`);
  } catch (e) {
    reportError(e, "Not saved");
  }
}

/** A path the desktop app's dialog chose, made relative to the project; null when it lies outside. */
export function toProjectPath(path: string): string | null {
  const dir = useCatalog.getState().project?.dir;
  if (!dir || !/^([/\\]|[A-Za-z]:)/.test(path)) return path;
  const norm = (p: string) => p.replaceAll("\\", "/");
  const root = `${norm(dir).replace(/\/$/, "")}/`;
  return norm(path).startsWith(root) ? norm(path).slice(root.length) : null;
}

const withSuffix = (path: string) =>
  path.endsWith(".dag.json") ? path : `${path.replace(/\.json$/, "")}.dag.json`;

const isConflict = (e: unknown) => (e as { status?: number })?.status === 409;
const discardAllowed = () =>
  !selectDirty(useEditor.getState()) || window.confirm("Discard the unsaved changes to this pipeline?");

/**
 * Saves the document under another path in the project, which then becomes
 * its path. An existing file is replaced only when the user says so (the
 * desktop app's save dialog has asked already: `overwrite`).
 */
export async function saveAs(target: string, { overwrite = false } = {}): Promise<boolean> {
  const { document } = useEditor.getState();
  const path = toProjectPath(withSuffix(target.trim()));
  if (!document) return false;
  if (!path) {
    toast("Save pipelines inside the project folder, so runs and the cache can find them.", "error");
    return false;
  }
  try {
    try {
      await api.savePipeline({ path, document, create: !overwrite });
    } catch (e) {
      if (!isConflict(e) || !window.confirm(`${path} exists. Replace it?`)) throw e;
      await api.savePipeline({ path, document });
    }
    useEditor.getState().markSaved(document, path);
    localStorage.setItem(LAST_PIPELINE_KEY, path);
    await refreshProject();
    toast(`Saved ${path}`);
    return true;
  } catch (e) {
    if (!isConflict(e)) reportError(e, "Not saved");
    return false;
  }
}

/** Creates an empty pipeline file in the project and opens it; never replaces a file. */
export async function newPipeline(target: string): Promise<boolean> {
  const path = toProjectPath(withSuffix(target.trim()));
  if (!path) {
    toast("Create pipelines inside the project folder.", "error");
    return false;
  }
  if (!discardAllowed()) return false;
  const name = (path.split("/").pop() ?? "pipeline").replace(/\.dag\.json$/, "");
  const document = { format: "dagwood.pipeline/1", name, params: {}, nodes: [], edges: [], layout: {} };
  try {
    await api.savePipeline({ path, document, create: true });
    await refreshProject();
    return await openPipeline(path, { force: true });
  } catch (e) {
    reportError(e, "Could not create the pipeline");
    return false;
  }
}

/** Switches to another project folder (the desktop app's Open Project), after asking about unsaved changes. */
export async function openProjectFolder(dir: string): Promise<void> {
  if (!discardAllowed()) return;
  try {
    await api.openProject({ dir });
    useEditor.getState().close();
    await loadProject();
  } catch (e) {
    reportError(e, "Could not open the project");
  }
}

/**
 * Downloads the canonical JSON of the document as it is now (saved or not); returns the file's name,
 * or undefined when there was nothing to export or it failed.
 */
export async function exportJson(): Promise<string | undefined> {
  const { document, path } = useEditor.getState();
  if (!document) return undefined;
  try {
    const { text } = await api.formatPipeline({ document });
    const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    const a = window.document.createElement("a");
    a.href = url;
    a.download = (path ?? `${pipelineName(document, path)}.dag.json`).split("/").pop()!;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    return a.download;
  } catch (e) {
    reportError(e, "Could not export");
    return undefined;
  }
}
