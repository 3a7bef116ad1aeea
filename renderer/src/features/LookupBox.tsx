/**
 * "Get features for a key": pick a view or a service, type the join-key
 * values of one entity row, and see each feature's value, status (PRESENT,
 * NOT_FOUND, OUTSIDE_MAX_AGE) and event time from the online store
 * (getOnlineFeatures, Feast's /get-online-features).
 */
import { useMemo, useState } from "react";
import type { FeaturesOverview, OnlineFeaturesAnswer } from "../../../app/values/features";
import { ApiCallError } from "../api/client";
import { messageOf } from "../services/errors";
import { featuresApi } from "./api";
import {
  feastType,
  formatFeatureValue,
  type LookupRow,
  lookupKeys,
  lookupRows,
  parseKeyValue,
  ttlWords,
  utcShort,
} from "./format";

type Target = { view: string } | { service: string };

const encode = (t: Target) => ("view" in t ? `view:${t.view}` : `service:${t.service}`);
const decode = (s: string): Target =>
  s.startsWith("view:") ? { view: s.slice(5) } : { service: s.slice("service:".length) };

export function LookupBox({ overview: o, initial }: { overview: FeaturesOverview; initial: Target }) {
  const [target, setTarget] = useState<Target>(initial);
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<{ rows: LookupRow[]; asked: string } | null>(null);
  const [error, setError] = useState<{ message: string; hint: string | null } | null>(null);
  const keys = useMemo(() => lookupKeys(o, target), [o, target]);
  const parsed = keys.map((k) => ({ ...k, parsed: parseKeyValue(texts[k.key] ?? "", k.type) }));
  const invalid = parsed.find((p) => "error" in p.parsed && (texts[p.key] ?? "").trim() !== "");
  const ready = keys.length > 0 && parsed.every((p) => "value" in p.parsed);
  const view = "view" in target ? o.views.find((v) => v.name === target.view) : undefined;

  const lookUp = async () => {
    if (!ready) return;
    const entities = Object.fromEntries(
      parsed.map((p) => [p.key, ["value" in p.parsed ? p.parsed.value : null]]),
    );
    setBusy(true);
    setError(null);
    try {
      const r: OnlineFeaturesAnswer = await featuresApi.lookup(
        "view" in target
          ? { features: (view?.features ?? []).map((f) => `${target.view}:${f.name}`), entities }
          : { service: target.service, entities, fullFeatureNames: true },
      );
      setAnswer({
        rows: lookupRows(
          r,
          keys.map((k) => k.key),
        ),
        asked: parsed
          .map((p) => `${p.key} = ${JSON.stringify("value" in p.parsed ? p.parsed.value : null)}`)
          .join(", "),
      });
    } catch (e) {
      setAnswer(null);
      const status = e instanceof ApiCallError ? e.status : 0;
      setError({
        message: messageOf(e),
        hint:
          status === 503 && !/dagwood\.json/.test(messageOf(e))
            ? `The online store (${o.online.kind}, ${o.online.location}) could not be reached: check "online" in dagwood.json${o.online.kind === "redis" ? " and that the Redis server runs" : ""}, then try again.`
            : status === 400
              ? "Check the key's values and that the definitions are applied (Apply above)."
              : null,
      });
    } finally {
      setBusy(false);
    }
  };

  const features = answer?.rows.filter((r) => !r.key) ?? [];
  const allMissing = features.length > 0 && features.every((r) => r.status === "NOT_FOUND");
  const someOld = features.some((r) => r.status === "OUTSIDE_MAX_AGE");

  return (
    <form
      className="lookup-box"
      data-testid="lookup-box"
      onSubmit={(e) => {
        e.preventDefault();
        void lookUp();
      }}
    >
      <div className="lookup-row">
        <label className="small">
          From{" "}
          <select
            className="field-input"
            data-testid="lookup-target"
            value={encode(target)}
            onChange={(e) => {
              setTarget(decode(e.target.value));
              setAnswer(null);
              setError(null);
            }}
          >
            <optgroup label="Feature views">
              {o.views
                .filter((v) => v.online || ("view" in target && target.view === v.name))
                .map((v) => (
                  <option key={v.name} value={`view:${v.name}`}>
                    {v.name}
                  </option>
                ))}
            </optgroup>
            {o.services.length > 0 && (
              <optgroup label="Feature services">
                {o.services.map((s) => (
                  <option key={s.name} value={`service:${s.name}`}>
                    {s.name}
                  </option>
                ))}
              </optgroup>
            )}
          </select>
        </label>
      </div>
      <div className="lookup-row lookup-keys">
        {keys.map((k) => (
          <label key={k.key} className="small lookup-key">
            <span className="mono">{k.key}</span>
            <input
              className={`field-input mono${
                "error" in (parsed.find((p) => p.key === k.key)?.parsed ?? {}) && (texts[k.key] ?? "").trim()
                  ? " invalid"
                  : ""
              }`}
              data-testid={`lookup-key-${k.key}`}
              placeholder={k.type ? feastType(k.type) : "value"}
              value={texts[k.key] ?? ""}
              onChange={(e) => setTexts({ ...texts, [k.key]: e.target.value })}
            />
          </label>
        ))}
        <button
          type="submit"
          className="button small primary"
          data-testid="lookup-go"
          disabled={!ready || busy}
          title={ready ? "Look the key up in the online store" : "Type a value for every join key"}
        >
          {busy ? <span className="spinner" /> : null} Get features
        </button>
      </div>
      {!keys.length && <p className="muted small">This has no join keys to look up.</p>}
      {invalid && "error" in invalid.parsed && (
        <p className="field-error small" role="alert">
          {invalid.key}: {invalid.parsed.error}
        </p>
      )}
      {error && (
        <div className="panel-error lookup-error small" data-testid="lookup-error">
          {error.message}
          {error.hint && <div className="lookup-hint">{error.hint}</div>}
        </div>
      )}
      {answer && (
        <div className="lookup-answer" data-testid="lookup-answer">
          <table className="runs-table lookup-table">
            <thead>
              <tr>
                <th>feature</th>
                <th>value</th>
                <th>status</th>
                <th>event time (UTC)</th>
              </tr>
            </thead>
            <tbody>
              {answer.rows.map((r) => (
                <tr key={r.name} className={r.key ? "lookup-key-row" : ""} data-testid={`lookup-${r.name}`}>
                  <td className="mono">{r.name}</td>
                  <td className="mono">{formatFeatureValue(r.value)}</td>
                  <td>
                    {r.key ? (
                      <span className="muted small">key</span>
                    ) : (
                      <span className={`lookup-status status-${r.status}`} data-testid="lookup-status">
                        {r.status}
                      </span>
                    )}
                  </td>
                  <td className="mono">{r.key ? "" : r.eventTime ? utcShort(r.eventTime) : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {allMissing && (
            <p className="muted small" data-testid="lookup-not-found">
              The online store has no row for {answer.asked}. If the key is in the source, materialise
              {view && !view.freshness.lastMaterialized ? ` ${view.name} (never materialised yet)` : " again"}
              .
            </p>
          )}
          {someOld && (
            <p className="muted small">
              OUTSIDE_MAX_AGE: the stored row is older than the view's TTL
              {view ? ` (${ttlWords(view.ttl)})` : ""}. Materialise newer rows to refresh it.
            </p>
          )}
        </div>
      )}
    </form>
  );
}
