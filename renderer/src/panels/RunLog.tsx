import { useShallow } from "zustand/react/shallow";
import { focusNode } from "../graph/focus";
import { isRunActive, runOutcome, useRun, warningCount } from "../store/run";
import { VirtualRows } from "./VirtualRows";
import "./RunLog.css";

const time = (at: number) => new Date(at).toLocaleTimeString(undefined, { hour12: false });

const seconds = (ms: number) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

/** The run's outcome for the log's header: "Run succeeded with 2 warnings in 9.5 s", or how far it is. */
function RunSummaryLine() {
  const { status, warnings, ms } = useRun(
    useShallow((s) => ({ status: s.status, warnings: s.warnings, ms: s.ms })),
  );
  if (status === "idle") return null;
  const text = isRunActive(status)
    ? `Running…${warnings ? ` ${warningCount(warnings)} so far` : ""}`
    : `Run ${runOutcome(status, warnings)}${ms !== undefined ? ` in ${seconds(ms)}` : ""}`;
  return (
    <span
      className={`run-log-summary run-${status}${warnings ? " has-warnings" : ""}`}
      data-testid="run-log-summary"
    >
      {text}
    </span>
  );
}

/** The run's events as they come: time, node, message (node logs and how each node finished). */
export function RunLog() {
  const { log, filter, earlier } = useRun(
    useShallow((s) => ({
      log: s.log,
      filter: s.logFilter,
      earlier: s.logFilter ? s.outputs[s.logFilter]?.warnings : undefined,
    })),
  );
  const { clearLog, setLogFilter } = useRun.getState();
  const shown = filter ? log.filter((e) => e.nodeId === filter) : log;
  return (
    <div className="run-log" data-testid="run-log">
      {log.length === 0 && !filter ? (
        <p className="muted panel-empty">No runs yet. Press Run (Ctrl+Enter) to run the pipeline.</p>
      ) : (
        <>
          <div className="run-log-head">
            <RunSummaryLine />
            {filter && (
              <span className="run-log-filter" data-testid="run-log-filter">
                Showing <span className="mono">{filter}</span> only
                <button
                  type="button"
                  className="link-button"
                  data-testid="run-log-show-all"
                  onClick={() => setLogFilter(null)}
                >
                  Show all
                </button>
              </span>
            )}
            <span className="spacer" />
            <button type="button" className="link-button run-log-clear" onClick={clearLog}>
              Clear
            </button>
          </div>
          {shown.length === 0 && (
            <div className="muted panel-empty run-log-earlier" data-testid="run-log-earlier">
              <p>
                No lines from <span className="mono">{filter}</span> in this session's log.
                {earlier && ` The run that computed its outputs logged ${warningCount(earlier.count)}:`}
              </p>
              {earlier && (
                <ul>
                  {[...new Set(earlier.messages)].map((m) => (
                    <li key={m}>{m}</li>
                  ))}
                </ul>
              )}
            </div>
          )}
          <VirtualRows
            count={shown.length}
            rowHeight={22}
            followTail
            className="log-rows"
            renderRow={(i) => {
              const e = shown[i]!;
              return (
                <div className={`log-line level-${e.level}`} title={e.message}>
                  <span className="log-time mono">{time(e.at)}</span>
                  {e.nodeId ? (
                    <button type="button" className="log-node mono" onClick={() => focusNode(e.nodeId!)}>
                      {e.nodeId}
                    </button>
                  ) : (
                    <span className="log-node mono muted">run</span>
                  )}
                  <span className="log-message">{e.message}</span>
                </div>
              );
            }}
          />
        </>
      )}
    </div>
  );
}
