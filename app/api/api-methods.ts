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
  "whoAmI",
  "setRunTags",
  "setRunNote",
  "listModels",
  "getModel",
  "getModelVersion",
  "getReferenceProfile",
  "updateModel",
  "setAlias",
  "removeAlias",
  "productionCheck",
  "aliasHistory",
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
  "deployCanary",
  "promoteCanary",
  "removeCanary",
  "startLocalServer",
  "stopLocalServer",
  "inferExample",
] as const;
export type DeployMethod = (typeof DEPLOY_METHODS)[number];

/**
 * The project's datasets (app/api/handlers/datasets.ts): their versions, schema changes and test
 * history come from the metadata store and their settings from dagwood.json, so, like the tracking
 * methods, they need no workspace and the CLI (`dagwood datasets`) serves them while a run holds it.
 */
export const DATASET_METHODS = ["listDatasets", "getDataset", "updateDataset"] as const;
export type DatasetMethod = (typeof DATASET_METHODS)[number];

/**
 * The feature store (app/api/handlers/features.ts): definitions from features/*.json, versions from
 * the metadata store, the online store from dagwood.json; a DuckDB session of their own, no workspace.
 */
export const FEATURE_METHODS = [
  "listFeatures",
  "applyFeatures",
  "materializeFeatures",
  "getOnlineFeatures",
] as const;
export type FeatureMethod = (typeof FEATURE_METHODS)[number];

/**
 * dagwood.json's database connections (app/api/handlers/connections.ts): listed, tested, their
 * catalog browsed and a table or read-only query previewed before any run; no workspace needed.
 */
export const CONNECTION_METHODS = [
  "listConnections",
  "testConnection",
  "browseConnection",
  "previewConnection",
] as const;
export type ConnectionMethod = (typeof CONNECTION_METHODS)[number];

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
  "listSuites",
  "loadSuite",
  "saveSuite",
  "suggestSuite",
  "listExpectationTypes",
  "governanceReport",
  "monitoringReport",
  "listMonitors",
  "runMonitorsNow",
  "monitorLoops",
  "approveChallenger",
  "rejectChallenger",
  "acknowledgeAlert",
  "driftDistribution",
  "pipelineChanges",
  "gitRevisions",
  /** Privacy (app/api/handlers/privacy.ts). */
  "scanPrivacy",
  ...TRACKING_METHODS,
  ...DATASET_METHODS,
  ...FEATURE_METHODS,
  ...CONNECTION_METHODS,
  ...DEPLOY_METHODS,
] as const;

export type ApiMethod = (typeof API_METHODS)[number];
