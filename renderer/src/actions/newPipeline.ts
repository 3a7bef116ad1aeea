import { api } from "../api/client";
import { addNode, newNode } from "../document/ops";
import { starterPipeline } from "../document/template";
import { reportError } from "../services/errors";
import { openPipeline, refreshProject } from "../services/pipelineFile";
import { useCatalog } from "../store/catalog";
import { selectDirty, useEditor } from "../store/editor";
import { toast } from "../store/toasts";
import type { PipelineDocument, Position } from "../store/types";
import { useUi } from "../store/ui";
import type { EditorAction } from "./types";

export const newPipeline: EditorAction = {
  id: "new",
  label: "New pipeline…",
  // Not Ctrl+N or Ctrl+Shift+N: Chromium keeps those (new window, incognito window) even in --app mode,
  // so a page never sees them. Ctrl+Alt+N reaches the page in Chromium and Electron.
  shortcuts: ["Mod+Alt+N"],
  perform() {
    useUi.getState().setPathDialog("new");
    return undefined;
  },
};

const isConflict = (e: unknown) => (e as { status?: number })?.status === 409;

/** `<stem>.dag.json`, or `<stem>-2.dag.json`, … : the first the project does not have. */
function freePath(stem: string, taken: ReadonlySet<string>, from = 1): string {
  for (let i = from; ; i++) {
    const path = `${stem}${i === 1 ? "" : `-${i}`}.dag.json`;
    if (!taken.has(path)) return path;
  }
}

/**
 * Writes a new pipeline file under a free name made from `stem` (never
 * replacing a file, even one made meanwhile) and opens it. Answers its path, or
 * null when it was not made (the reason shown).
 */
export async function createPipelineFile(stem: string, document: PipelineDocument): Promise<string | null> {
  const editor = useEditor.getState();
  if (
    editor.document &&
    selectDirty(editor) &&
    !window.confirm("Discard the unsaved changes to this pipeline?")
  )
    return null;
  const taken = new Set(useCatalog.getState().project?.pipelines ?? []);
  for (let attempt = 0; attempt < 20; attempt++) {
    const path = freePath(stem, taken);
    try {
      await api.savePipeline({ path, document, create: true });
      await refreshProject();
      return (await openPipeline(path, { force: true })) ? path : null;
    } catch (e) {
      if (!isConflict(e)) {
        reportError(e, "Could not create the pipeline");
        return null;
      }
      taken.add(path);
    }
  }
  toast(
    `Could not find a free name for ${stem}.dag.json: save the pipeline under a name of your own.`,
    "error",
  );
  return null;
}

const emptyDocument = (name: string): PipelineDocument => ({
  format: "dagwood.pipeline/1",
  name,
  params: {},
  nodes: [],
  edges: [],
  layout: {},
});

/**
 * A block dropped while no pipeline is open: a new pipeline, `untitled.dag.json`
 * (or the next free `untitled-N`), is made holding it. Saving keeps that name;
 * Save as… gives it another.
 */
export async function newPipelineWithBlock(kind: string, at: Position): Promise<void> {
  const path = await createPipelineFile("untitled", emptyDocument("untitled"));
  const editor = useEditor.getState();
  if (!path || !editor.document) return;
  const node = newNode(editor.document, kind);
  editor.commit(addNode(editor.document, node, at), {
    selection: { nodes: new Set([node.id]), edges: new Set() },
  });
  toast(`Made a new pipeline, ${path}, for the block. Save it there, or use Save as… to name it.`);
}

/** The starter template on a data file of the project; its train node is selected for the target to be chosen. */
export async function newPipelineFromTemplate(dataPath: string): Promise<boolean> {
  const { document, select } = starterPipeline(dataPath);
  const path = await createPipelineFile(String(document.name), document);
  if (!path) return false;
  useEditor.getState().select({ nodes: new Set([select]), edges: new Set() });
  toast(`Made ${path}. Choose the target column of ${select} in the inspector, then Run.`);
  return true;
}
