/** One problem with a suite file or one of its expectations. */
export interface SuiteProblem {
  /** JSON path in the suite, e.g. "expectations[3].kwargs.min_value". */
  path: string;
  /** Names the expectation (its index and type) and says what to do. */
  message: string;
}

/** A suite that cannot be used at all (not JSON, not a suite). */
export class SuiteError extends Error {
  override name = "SuiteError";
  constructor(
    message: string,
    readonly problems: SuiteProblem[] = [],
  ) {
    super(message);
  }
}
