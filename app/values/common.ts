/**
 * Pieces the value types share. app/values is a leaf: it imports nothing of
 * the project, so the blocks, the Api and the renderer can all use it.
 */
import { z } from "zod";

/** What a model predicts: a class of two, one of many, or a number. */
export const Task = z.enum(["binary", "multiclass", "regression"]);
export type Task = z.infer<typeof Task>;

/** A class as the data writes it: text (booleans and dates too), or a number. */
export const ClassLabel = z.union([z.string(), z.number()]);
export type ClassLabel = z.infer<typeof ClassLabel>;

/**
 * A number that may be undefined for the data (NaN, e.g. the AUC of one
 * class) or infinite (the ROC's first threshold): reports are written
 * through `jsonSafe`, which turns those into null.
 */
export const maybeNumber = z.number().nullable();
