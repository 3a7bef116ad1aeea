/**
 * Materialize: incrementally up to now (from each view's last materialised
 * end, else end − TTL), or a window; while it runs the button says so, and a
 * toast says what each view wrote.
 */
import { useState } from "react";
import { messageOf } from "../services/errors";
import { toast } from "../store/toasts";
import { featuresApi } from "./api";
import { localInputToIso, materializedWords } from "./format";

/** A Date as a datetime-local input's value (local time, minutes). */
function toLocalInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function MaterializeForm({
  views,
  all,
  onClose,
  onDone,
}: {
  views: string[];
  /** Every online view (the toolbar's), else the views named. */
  all: boolean;
  onClose(): void;
  onDone(): void;
}) {
  const now = new Date();
  const [mode, setMode] = useState<"incremental" | "window">("incremental");
  const [start, setStart] = useState(toLocalInput(new Date(now.getTime() - 7 * 86_400_000)));
  const [end, setEnd] = useState(toLocalInput(now));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const startIso = localInputToIso(start);
  const endIso = localInputToIso(end);
  const windowProblem =
    mode === "window"
      ? !startIso || !endIso
        ? "Give a start and an end."
        : Date.parse(startIso) >= Date.parse(endIso)
          ? "The start must be before the end."
          : null
      : null;

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const { records } = await featuresApi.materialize({
        ...(mode === "incremental"
          ? { incremental: true, end: new Date().toISOString() }
          : { start: startIso!, end: endIso! }),
        ...(all ? {} : { views }),
      });
      toast(materializedWords(records));
      onDone();
    } catch (e) {
      // Said in the form, beside the button pressed (a toast would repeat it).
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="materialize-form"
      data-testid="materialize-form"
      onSubmit={(e) => {
        e.preventDefault();
        void run();
      }}
    >
      <strong>Materialize {all ? "every online view" : views.join(", ")}</strong>
      <label className="small">
        <input
          type="radio"
          name="materialize-mode"
          data-testid="materialize-incremental"
          checked={mode === "incremental"}
          onChange={() => setMode("incremental")}
        />{" "}
        incrementally, up to now
      </label>
      <label className="small">
        <input
          type="radio"
          name="materialize-mode"
          data-testid="materialize-window"
          checked={mode === "window"}
          onChange={() => setMode("window")}
        />{" "}
        a window
      </label>
      {mode === "window" && (
        <>
          <input
            type="datetime-local"
            className="field-input"
            aria-label="Start"
            data-testid="materialize-start"
            value={start}
            onChange={(e) => setStart(e.target.value)}
          />
          <span className="muted">→</span>
          <input
            type="datetime-local"
            className="field-input"
            aria-label="End"
            data-testid="materialize-end"
            value={end}
            onChange={(e) => setEnd(e.target.value)}
          />
        </>
      )}
      <button
        type="submit"
        className="button small primary"
        data-testid="materialize-go"
        disabled={busy || !!windowProblem}
        title={windowProblem ?? undefined}
      >
        {busy ? (
          <>
            <span className="spinner" /> Materializing…
          </>
        ) : (
          "Materialize"
        )}
      </button>
      <button type="button" className="button small" disabled={busy} onClick={onClose}>
        Cancel
      </button>
      <span className="muted small materialize-note">
        {mode === "incremental"
          ? "From each view's last materialised end (or now − its TTL) to now: the latest row per key."
          : "The latest row per key with an event time in the window (local time)."}
      </span>
      {windowProblem && <span className="field-error small">{windowProblem}</span>}
      {error && (
        <div className="panel-error small materialize-error" data-testid="materialize-error">
          {error}
        </div>
      )}
    </form>
  );
}
