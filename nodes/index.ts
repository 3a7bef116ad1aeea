import { type AnyBlock, makeCatalog } from "../app/engine/block";
import analyzeProfile from "./analyze-profile";
import clean from "./clean";
import deploy from "./deploy";
import evaluate from "./evaluate";
import explain from "./explain";
import featuresMaterialize from "./features-materialize";
import featuresTrainingSet from "./features-training-set";
import featuresView from "./features-view";
import gate from "./gate";
import ingestDatabase from "./ingest-database";
import ingestFile from "./ingest-file";
import monitorDrift from "./monitor-drift";
import predict from "./predict";
import register from "./register";
import selectFeatures from "./select-features";
import shuffle from "./shuffle";
import split from "./split";
import trainForest from "./train-forest";
import trainGbdt from "./train-gbdt";
import trainLinear from "./train-linear";
import trainLogistic from "./train-logistic";
import trainMlp from "./train-mlp";
import trainTree from "./train-tree";
import transformSql from "./transform-sql";
import validateExpectations from "./validate-expectations";

/** Every block kind, one line each. Adding a block is a file, its test, and a line here. */
// biome-ignore format: one line per block keeps additions to a one-line diff
export const blocks: AnyBlock[] = [
  ingestFile,
  ingestDatabase,
  analyzeProfile,
  validateExpectations,
  transformSql,
  clean,
  selectFeatures,
  split,
  shuffle,
  trainLinear,
  trainLogistic,
  trainTree,
  trainForest,
  trainGbdt,
  trainMlp,
  predict,
  evaluate,
  explain,
  gate,
  register,
  deploy,
  monitorDrift,
  featuresView,
  featuresTrainingSet,
  featuresMaterialize,
];

export const catalog = makeCatalog(blocks);
