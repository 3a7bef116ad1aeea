/**
 * CART: one decision tree (regression: MSE, classification: Gini), grown on
 * the binned features with all features at each split and no bootstrap.
 * Shares the forest's code (forest.ts): a CART is a forest of one tree.
 */
import { fitEnsemble, type TreeParams } from "./forest";
import type { FitOptions, TrainingData, TreeEnsembleModel } from "./types";

export type { TreeParams } from "./forest";

/** Defaults: maxDepth 10, minSamplesLeaf 1, all features per split. */
export function fitTree(
  train: TrainingData,
  params: TreeParams = {},
  options: FitOptions = {},
): Promise<TreeEnsembleModel> {
  return fitEnsemble(
    "cart",
    train,
    { maxDepth: 10, maxFeatures: "all", ...params, trees: 1, bootstrap: false },
    options,
  );
}
