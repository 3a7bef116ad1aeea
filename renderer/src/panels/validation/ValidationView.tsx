/**
 * A `validate.expectations` report (kind "validation", Great Expectations'
 * suite validation result): a summary line, a passed / failed bar, then each
 * expectation, failed first: what it expects of which columns, what was
 * observed, how many values were unexpected (with `mostly`), the first
 * unexpected values, and in red the message of an expectation that was itself
 * wrong. Sized for the bottom panel at 1280×720: one line per expectation.
 */
import "./validation.css";
import { useState } from "react";
import type { ExpectationResult, ValidationReport } from "../../../../app/values/expectations";
import {
  compactKwargs,
  compactValue,
  distinctExamples,
  exceptionMessage,
  expectationColumns,
  mostlyText,
  orderedResults,
  percentText,
  readableType,
  summaryText,
  unexpectedText,
} from "./format";

function ResultRow({ result, index }: { result: ExpectationResult; index: number }) {
  const [open, setOpen] = useState(false);
  const kwargs = result.kwargs ?? result.expectation_config?.kwargs ?? {};
  const detail = result.result ?? {};
  const error = exceptionMessage(result);
  const examples = detail.partial_unexpected_list ?? [];
  const unexpected = unexpectedText(result);
  const mostly = mostlyText(kwargs);
  const observed = detail.observed_value;
  const args = compactKwargs(kwargs);
  const status = result.success ? "passed" : error ? "error" : "failed";
  return (
    <tbody className={`vr-result ${status}`} data-testid={`expectation-${index}`} data-status={status}>
      <tr>
        <td className="vr-status" title={status}>
          {result.success ? "✓" : error ? "!" : "✗"}
        </td>
        <td className="vr-type" title={result.expectation_type}>
          {readableType(result.expectation_type)}
        </td>
        <td className="mono vr-columns">{expectationColumns(kwargs)}</td>
        <td className="mono vr-kwargs" title={args}>
          {args}
        </td>
        <td
          className="mono vr-observed"
          title={observed === undefined ? undefined : JSON.stringify(observed)}
        >
          {observed === undefined ? "" : compactValue(observed)}
        </td>
        <td className="vr-unexpected" data-testid={`unexpected-${index}`}>
          {unexpected}
          {mostly && <span className="vr-mostly">{mostly}</span>}
        </td>
        <td className="vr-more">
          {examples.length > 0 && (
            <button
              type="button"
              className="link-button"
              data-testid={`examples-toggle-${index}`}
              aria-expanded={open}
              onClick={() => setOpen(!open)}
            >
              {open ? "▾" : "▸"} {examples.length} example{examples.length === 1 ? "" : "s"}
            </button>
          )}
        </td>
      </tr>
      {error && (
        <tr className="vr-detail">
          <td />
          <td colSpan={6} className="vr-error" data-testid={`exception-${index}`}>
            {error}
          </td>
        </tr>
      )}
      {open && examples.length > 0 && (
        <tr className="vr-detail">
          <td />
          <td colSpan={6}>
            <div className="vr-examples" data-testid={`examples-${index}`}>
              <span className="muted">
                First {examples.length} unexpected value{examples.length === 1 ? "" : "s"}:
              </span>
              {distinctExamples(examples).map(({ text, count }) => (
                <code key={text} className="vr-example" title={text}>
                  {text}
                  {count > 1 && <span className="vr-times"> ×{count}</span>}
                </code>
              ))}
            </div>
          </td>
        </tr>
      )}
    </tbody>
  );
}

export default function ValidationView({ report }: { report: ValidationReport }) {
  const stats = report.statistics;
  const failed = stats.unsuccessful_expectations;
  const [filter, setFilter] = useState<"all" | "failed">("all");
  const shown = orderedResults(report.results, filter);
  const passedShare = stats.evaluated_expectations
    ? (stats.successful_expectations / stats.evaluated_expectations) * 100
    : 0;
  const meta = report.meta;
  return (
    <div className="validation-view" data-testid="validation-view">
      <div className="vr-summary">
        <span className={`vr-verdict ${report.success ? "ok" : "bad"}`}>
          {report.success ? "passed" : "failed"}
        </span>
        <b data-testid="validation-summary">{summaryText(report)}</b>
        <span className="muted vr-context" title={`Suite ${meta.expectation_suite_name}`}>
          ·{" "}
          {meta.suite_source && meta.suite_source !== "inline" ? (
            <span className="mono">{meta.suite_source}</span>
          ) : (
            <>
              inline suite <span className="mono">{meta.expectation_suite_name}</span>
            </>
          )}{" "}
          · {meta.rows.toLocaleString("en-US")} rows
          {meta.on_failure && <> · on failure: {meta.on_failure}</>}
        </span>
        <fieldset className="vr-filter" aria-label="Show">
          {(["all", "failed"] as const).map((f) => (
            <button
              type="button"
              key={f}
              className={`subtab${filter === f ? " active" : ""}`}
              aria-pressed={filter === f}
              data-testid={`validation-filter-${f}`}
              onClick={() => setFilter(f)}
            >
              {f === "all" ? `All (${report.results.length})` : `Failed (${failed})`}
            </button>
          ))}
        </fieldset>
      </div>
      <div
        className="vr-bar"
        role="img"
        aria-label={`${stats.successful_expectations} passed, ${failed} failed`}
        title={`${stats.successful_expectations} passed (${percentText(passedShare)}), ${failed} failed`}
      >
        <div className="vr-bar-pass" style={{ width: `${passedShare}%` }} />
        <div
          className="vr-bar-fail"
          style={{ width: `${stats.evaluated_expectations ? 100 - passedShare : 0}%` }}
        />
      </div>
      {shown.length === 0 ? (
        <p className="muted panel-empty">
          {filter === "failed" ? "No expectation failed." : "The suite has no expectations."}
        </p>
      ) : (
        <table className="vr-table">
          <thead>
            <tr>
              <th />
              <th>expectation</th>
              <th>column</th>
              <th>arguments</th>
              <th>observed</th>
              <th>unexpected</th>
              <th />
            </tr>
          </thead>
          {shown.map(({ result, index }) => (
            <ResultRow key={index} result={result} index={index} />
          ))}
        </table>
      )}
    </div>
  );
}
