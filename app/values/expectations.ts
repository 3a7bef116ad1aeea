/**
 * Data tests: expectation suites and their results, in Great Expectations'
 * JSON shapes (great_expectations 0.18: ExpectationSuite,
 * ExpectationConfiguration, ExpectationValidationResult,
 * ExpectationSuiteValidationResult), so a suite written for Great
 * Expectations runs here unchanged and a result reads the same. The
 * `validate.expectations` block writes a ValidationReport (kind
 * "validation"); `ingest.file` records one per suite attached to the dataset
 * it reads (dagwood.json `datasets`).
 */
import { z } from "zod";
import { Governance } from "./governance";

/** One expectation as a suite file holds it. */
export const ExpectationConfig = z.looseObject({
  expectation_type: z.string().min(1),
  kwargs: z.record(z.string(), z.unknown()).default({}),
  meta: z.record(z.string(), z.unknown()).optional(),
});
export type ExpectationConfig = z.output<typeof ExpectationConfig>;

/**
 * A suite file (`expectations/<name>.json`). Great Expectations' fields are
 * kept as they are; Dagwood's governance fields (owner, purpose, reviewBy,
 * deprecated) live under `meta.dagwood`, where Great Expectations keeps a
 * suite's own notes, so the file stays a valid Great Expectations suite.
 */
export const ExpectationSuite = z.looseObject({
  expectation_suite_name: z.string().min(1),
  expectations: z.array(ExpectationConfig),
  data_asset_type: z.string().nullable().optional(),
  ge_cloud_id: z.string().nullable().optional(),
  meta: z
    .looseObject({
      great_expectations_version: z.string().optional(),
      dagwood: Governance.optional(),
    })
    .optional(),
});
export type ExpectationSuite = z.output<typeof ExpectationSuite>;

/** What to do when a suite fails (validate.expectations `onFailure`; a dataset's attached suite). */
export const OnFailure = z.enum(["fail", "warn", "quarantine"]);
export type OnFailure = z.infer<typeof OnFailure>;

/**
 * `result` of one expectation, as Great Expectations' BASIC result format
 * gives it: row-level (column map) expectations have the counts and
 * partial_unexpected_list (at most 20 values); table and aggregate
 * expectations have `observed_value`. Percentages are 0–100; unexpected_percent
 * is over non-null rows. null where a percentage has no rows to be over.
 */
export const ExpectationResultDetail = z.looseObject({
  element_count: z.number().optional(),
  missing_count: z.number().optional(),
  missing_percent: z.number().nullable().optional(),
  unexpected_count: z.number().optional(),
  unexpected_percent: z.number().nullable().optional(),
  unexpected_percent_total: z.number().nullable().optional(),
  unexpected_percent_nonmissing: z.number().nullable().optional(),
  partial_unexpected_list: z.array(z.unknown()).optional(),
  observed_value: z.unknown().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ExpectationResultDetail = z.infer<typeof ExpectationResultDetail>;

/**
 * One expectation's result. `expectation_type` and `kwargs` are repeated at
 * the top for readers that want them there; `expectation_config` is Great
 * Expectations' own place for them. A problem with the expectation itself (an
 * unknown type, bad kwargs, a missing column, a regex DuckDB cannot compile)
 * is `success: false` with `exception_info.raised_exception: true` and a
 * message naming the expectation, as Great Expectations reports it: the other
 * expectations still run.
 */
export const ExpectationResult = z.looseObject({
  expectation_type: z.string(),
  kwargs: z.record(z.string(), z.unknown()),
  success: z.boolean(),
  result: ExpectationResultDetail,
  expectation_config: z.looseObject({
    expectation_type: z.string(),
    kwargs: z.record(z.string(), z.unknown()),
    meta: z.record(z.string(), z.unknown()).optional(),
  }),
  exception_info: z.looseObject({
    raised_exception: z.boolean(),
    exception_message: z.string().nullable(),
    exception_traceback: z.string().nullable(),
  }),
  meta: z.record(z.string(), z.unknown()).optional(),
});
export type ExpectationResult = z.infer<typeof ExpectationResult>;

export const ValidationStatistics = z.looseObject({
  evaluated_expectations: z.number(),
  successful_expectations: z.number(),
  unsuccessful_expectations: z.number(),
  /** 0–100; null for a suite with no expectations. */
  success_percent: z.number().nullable(),
});
export type ValidationStatistics = z.infer<typeof ValidationStatistics>;

/** A suite's run over one table: Great Expectations' ExpectationSuiteValidationResult plus `kind`. */
export const ValidationReport = z.looseObject({
  kind: z.literal("validation"),
  success: z.boolean(),
  statistics: ValidationStatistics,
  results: z.array(ExpectationResult),
  meta: z.looseObject({
    expectation_suite_name: z.string(),
    /** Rows in the table validated. */
    rows: z.number(),
    /** Where the suite came from: a project path, or "inline". */
    suite_source: z.string().optional(),
    /** What the block did on failure, and how many rows quarantine moved to `rejected`. */
    on_failure: OnFailure.optional(),
    rejected_rows: z.number().optional(),
    /** How many DuckDB queries the suite took (the runner batches expectations into few passes). */
    passes: z.number().optional(),
    validation_time: z.string().optional(),
  }),
});
export type ValidationReport = z.infer<typeof ValidationReport>;
