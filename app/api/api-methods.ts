/**
 * The Api's method names, as a plain list: the Electron preload exposes one
 * function per name and must not bundle the schemas. `api.ts` checks that its
 * argument schemas cover exactly these.
 */
/**
 * The tracking and registry methods: they need only the project folder and
 * its metadata store, so the CLI serves them without opening the workspace.
 */
export const TRACKING_METHODS = [
  "getRun",
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
export type TrackingMethod = (typeof TRACKING_METHODS)[number];

/**
 * Deploy targets, deployments and traffic, and the built-in `local` target's server
 * (app/api/handlers/deploy.ts): no workspace needed either.
 */
export const DEPLOY_METHODS = [
  "listTargets",
  "deploymentStatus",
  "deployVersion",
  "rollbackDeployment",
  "setTraffic",
  "startLocalServer",
  "stopLocalServer",
  "inferExample",
] as const;
export type DeployMethod = (typeof DEPLOY_METHODS)[number];

export const API_METHODS = [
  "getProject",
  "openProject",
  "listBlocks",
  "listDataFiles",
  "loadPipeline",
  "savePipeline",
  "formatPipeline",
  "validatePipeline",
  "cacheState",
  "inferSchemas",
  "startRun",
  "cancelRun",
  "collectGarbage",
  "listRuns",
  "previewTable",
  "profileTable",
  "getReport",
  ...TRACKING_METHODS,
  ...DEPLOY_METHODS,
] as const;

export type ApiMethod = (typeof API_METHODS)[number];
