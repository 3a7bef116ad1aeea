/** The tree estimators' core: fits, prediction, the model format. See README.md. */
export { type BinMapper, type FeatureBins, fitBins, MAX_BINS } from "./binning";
export { fitTree } from "./cart";
export { exactSplitsFor } from "./exact";
export { type ForestParams, fitForest, type TreeParams } from "./forest";
export { fitGbdt, type GbdtParams } from "./gbdt";
export { InlineTreePool, sharedTreePool, type TreePool, WorkerTreePool } from "./pool";
export { predict, predictClasses, predictProba, predictRaw } from "./predict";
export * from "./types";
