/** Drafting a suite from a profile (`analyze.profile`'s report), for review before use. */

import type { ExpectationConfig, ExpectationSuite } from "../../values/expectations";
import type { ColumnProfile, ProfileReport } from "../../values/profile";

const INTEGER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;

/** A step that rounds a range of this span to about two significant digits. */
function niceStep(span: number, integer: boolean): number {
  if (!(span > 0)) return integer ? 1 : 0;
  const step = 10 ** (Math.floor(Math.log10(span)) - 1);
  return integer ? Math.max(1, step) : step;
}

/** Rounds to the step without binary noise (0.30000000000000004 → 0.3). */
function clean(v: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  return Number(v.toFixed(Math.min(digits, 15)));
}

function range(c: ColumnProfile, margin: number): { min_value: number; max_value: number } | undefined {
  if (c.min === null || c.max === null) return undefined;
  const integer = INTEGER.test(c.type);
  const span = c.max - c.min;
  const widen = span > 0 ? span * margin : Math.abs(c.max) * margin;
  const step = niceStep(span > 0 ? span : Math.abs(c.max), integer);
  if (step === 0) return { min_value: c.min, max_value: c.max };
  return {
    min_value: clean(Math.floor((c.min - widen) / step) * step, step),
    max_value: clean(Math.ceil((c.max + widen) / step) * step, step),
  };
}

export function suggestSuite(
  profile: ProfileReport,
  opts: { name: string; margin: number },
): ExpectationSuite {
  const margin = Math.max(0, opts.margin);
  const expectations: ExpectationConfig[] = [];
  const add = (expectation_type: string, kwargs: Record<string, unknown>) =>
    expectations.push({ expectation_type, kwargs, meta: {} });

  add("expect_table_row_count_to_be_between", {
    min_value: Math.max(0, Math.floor(profile.rows * (1 - margin))),
    max_value: Math.ceil(profile.rows * (1 + margin)),
  });
  add("expect_table_columns_to_match_set", {
    column_set: profile.columns.map((c) => c.name),
    exact_match: true,
  });
  for (const c of profile.columns) {
    add("expect_column_values_to_be_of_type", { column: c.name, type_: c.type });
    const nonNullShare = profile.rows > 0 ? (profile.rows - c.nulls) / profile.rows : 1;
    if (c.nulls === 0) add("expect_column_values_to_not_be_null", { column: c.name });
    else {
      // Rounded down to whole percent, so the observed share passes.
      const mostly = Math.floor(nonNullShare * 100) / 100;
      if (mostly > 0) add("expect_column_values_to_not_be_null", { column: c.name, mostly });
    }
    if (c.kind === "numeric" && c.unit === null) {
      const r = range(c, margin);
      if (r) add("expect_column_values_to_be_between", { column: c.name, ...r });
    }
    if (
      (c.kind === "categorical" || c.kind === "boolean") &&
      !c.distinctApprox &&
      c.distinct > 0 &&
      c.distinct <= 20 &&
      c.top &&
      c.top.length >= c.distinct
    ) {
      const values = c.top.map((t) => t.value);
      add("expect_column_values_to_be_in_set", { column: c.name, value_set: values });
    }
  }
  return {
    expectation_suite_name: opts.name,
    expectations,
    data_asset_type: null,
    meta: { notes: `Suggested by Dagwood from a profile of ${profile.rows} rows; review before use` },
  };
}
