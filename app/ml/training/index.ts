/** Training, for the train blocks: see train.ts. */
export type { TrainingContext, TrainingTable } from "./context";
export { exportWithParity, type OnnxOpsets, packModel } from "./export";
export { type LinearTrainParams, oneHotScaledPreprocessing, trainLinear } from "./linear";
export { type MlpTrainParams, trainNetwork } from "./mlp";
export { readTrainingRows, type TrainingRows } from "./rows";
export { type FoldFit, type SearchParams, searchHyperparameters, type TuningRecord } from "./search";
export { fitTrainingPreprocessor, type Trainer, type TrainParams, trainModel } from "./train";
export { type TreeFit, type TreeTrainParams, trainTrees } from "./trees";
