/**
 * The Api's method names, as a plain list: the Electron preload exposes one
 * function per name and must not bundle the schemas. `api.ts` checks that its
 * argument schemas cover exactly these.
 */
export const API_METHODS = [
  "getProject",
  "openProject",
  "listBlocks",
  "loadPipeline",
  "savePipeline",
  "formatPipeline",
  "validatePipeline",
  "cacheState",
  "startRun",
  "cancelRun",
  "listRuns",
  "getRun",
  "previewTable",
  "profileTable",
  "getReport",
  "searchRuns",
  "compareRuns",
  "setRunTags",
  "setRunNote",
  "listModels",
  "getModel",
  "getModelVersion",
  "updateModel",
  "setAlias",
  "removeAlias",
  "archiveVersion",
  "auditLog",
  "lineageGraph",
  "exportRun",
  "exportModelVersion",
] as const;

export type ApiMethod = (typeof API_METHODS)[number];
