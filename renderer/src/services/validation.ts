/**
 * Asks the core about the document after every change (debounced): its
 * problems, the schemas of its nodes' outputs before any run (with the
 * unknown columns, bad SQL and missing files they show), and which nodes the
 * cache holds (cached) or would run (stale). Also after a run, when the cache
 * has changed.
 */
import { api } from "../api/client";
import { locateProblem, validPart } from "../document/problems";
import { useEditor } from "../store/editor";
import { useRun } from "../store/run";
import type { PipelineDocument } from "../store/types";
import { useValidation } from "../store/validation";
import { reportError } from "./errors";

const DEBOUNCE_MS = 300;

export function watchDocument(): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let latest = 0;

  const check = async (doc: PipelineDocument) => {
    const ticket = ++latest;
    try {
      // Inference needs an open project; without one (or if it fails) the pickers wait for a run.
      const [{ problems }, inferred] = await Promise.all([
        api.validatePipeline({ document: doc }),
        api.inferSchemas({ document: doc }).catch(() => undefined),
      ]);
      if (ticket !== latest) return; // a newer document is being checked
      const located = problems.map((p) => locateProblem(doc, p));
      const schemaProblems = (inferred?.problems ?? []).map((p) => locateProblem(doc, p));
      useValidation.getState().setProblems([...located, ...schemaProblems]);
      useValidation.getState().setSchemas(inferred?.schemas ?? {});
      // The cache can be asked about what plans: column problems do not keep a node from planning.
      const part = validPart(doc, located);
      const cache = part?.nodes.length ? (await api.cacheState({ document: part })).nodes : {};
      if (ticket === latest) useValidation.getState().setCache(cache);
    } catch (e) {
      if (ticket === latest) reportError(e, "Could not validate the pipeline");
    }
  };

  const schedule = (delay = DEBOUNCE_MS) => {
    clearTimeout(timer);
    const doc = useEditor.getState().document;
    if (doc) timer = setTimeout(() => void check(doc), delay);
  };

  const offEditor = useEditor.subscribe((s, prev) => {
    if (s.document === prev.document) return;
    // An edit (not opening another file) makes the last run's states give way to the cache states.
    if (s.path === prev.path && prev.document) useRun.getState().markEdited();
    schedule(s.path === prev.path ? DEBOUNCE_MS : 0);
  });
  const offRun = useRun.subscribe((s, prev) => {
    if (s.status !== prev.status && !["starting", "running"].includes(s.status)) schedule(0);
  });
  return () => {
    clearTimeout(timer);
    offEditor();
    offRun();
  };
}
