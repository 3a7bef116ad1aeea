/**
 * The Features view: the project's feature store (listFeatures) — its
 * definition problems, feature views (schema, entities, TTL, source, applied
 * version, freshness), services with the registered models that use them,
 * entities, the online store and its materialisation history — with Apply,
 * Materialize and a "get features for a key" box (getOnlineFeatures).
 */
import { useMemo, useState } from "react";
import type {
  FeatureDefinitionProblem,
  FeatureEntitySummary,
  FeatureMaterialization,
  FeatureServiceSummary,
  FeaturesOverview,
  FeatureViewSummary,
} from "../../../app/values/features";
import { formatDuration, formatTime } from "../experiments/format";
import { useModels } from "../models/store";
import { useApiKeepingLast } from "../panels/useApi";
import { messageOf } from "../services/errors";
import { Loading } from "../shell/Loading";
import { toast } from "../store/toasts";
import { useUi } from "../store/ui";
import { featuresApi } from "./api";
import { ago, feastType, freshnessOf, README_SECTION, ttlWords, utcShort, windowWords } from "./format";
import { HistoryChart } from "./HistoryChart";
import { LookupBox } from "./LookupBox";
import { MaterializeForm } from "./MaterializeForm";
import { type FeatureChoice, useFeatures } from "./store";
import "./features.css";

const openModel = (name: string) => {
  useModels.getState().choose(name);
  useUi.getState().setView("models");
};

export function FeaturesView() {
  const [revision, setRevision] = useState(0);
  const refresh = () => setRevision((r) => r + 1);
  const loaded = useApiKeepingLast(() => featuresApi.list(), String(revision));
  return (
    <div className="features-view" data-testid="features-view">
      {loaded.status === "loading" && <Loading>Reading the feature definitions…</Loading>}
      {loaded.status === "error" && (
        <div className="panel-error" data-testid="features-error">
          Could not read the feature store: {loaded.message}
        </div>
      )}
      {loaded.status === "ok" && <Overview overview={loaded.value} onChanged={refresh} />}
    </div>
  );
}

function isEmpty(o: FeaturesOverview): boolean {
  return !o.entities.length && !o.views.length && !o.services.length;
}

/** The chosen item if it still exists, else the first view (or service, or entity). */
function shownChoice(o: FeaturesOverview, chosen: FeatureChoice | null): FeatureChoice | null {
  if (chosen) {
    const exists =
      chosen.kind === "history" ||
      (chosen.kind === "view" && o.views.some((v) => v.name === chosen.name)) ||
      (chosen.kind === "service" && o.services.some((s) => s.name === chosen.name)) ||
      (chosen.kind === "entity" && o.entities.some((e) => e.name === chosen.name));
    if (exists) return chosen;
  }
  if (o.views[0]) return { kind: "view", name: o.views[0].name };
  if (o.services[0]) return { kind: "service", name: o.services[0].name };
  if (o.entities[0]) return { kind: "entity", name: o.entities[0].name };
  return null;
}

function Overview({ overview: o, onChanged }: { overview: FeaturesOverview; onChanged(): void }) {
  const chosen = useFeatures((s) => s.chosen);
  const choose = useFeatures.getState().choose;
  const shown = shownChoice(o, chosen);
  const [materializing, setMaterializing] = useState<string[] | "all" | null>(null);
  const [applying, setApplying] = useState(false);
  const [applyError, setApplyError] = useState<string | null>(null);

  const apply = async () => {
    setApplying(true);
    try {
      const r = await featuresApi.apply();
      setApplyError(null);
      const changed = r.views.filter((v) => v.changed);
      toast(
        changed.length
          ? `Applied: ${changed.map((v) => `${v.name} v${v.version}`).join(", ")}${
              r.views.length > changed.length ? ` (${r.views.length - changed.length} unchanged)` : ""
            }`
          : `Applied: no view changed (${r.views.length} view${r.views.length === 1 ? "" : "s"} checked)`,
      );
      const unchecked = r.views.filter((v) => v.unchecked);
      for (const v of unchecked) toast(`${v.name}: not checked against its source — ${v.unchecked}`);
    } catch (e) {
      setApplyError(messageOf(e));
      toast("Apply refused: see the problems above the list", "error");
    } finally {
      setApplying(false);
      onChanged();
    }
  };

  const needsApply = o.views.filter((v) => v.version === null || v.changedSinceApply).length;
  const online = o.views.filter((v) => v.online);
  const storeDown = o.online.error !== null;

  return (
    <div className="features-page">
      <div className="features-toolbar">
        <h2>Features</h2>
        <span className="muted small">
          {count(o.views.length, "view")} · {count(o.services.length, "service")} ·{" "}
          {count(o.entities.length, "entity", "entities")}
        </span>
        <OnlineStore online={o.online} />
        <span className="features-toolbar-actions">
          <button
            type="button"
            className="button small"
            data-testid="features-refresh"
            onClick={() => {
              setApplyError(null);
              onChanged();
            }}
          >
            Refresh
          </button>
          <button
            type="button"
            className={`button small${needsApply ? " primary" : ""}`}
            data-testid="features-apply"
            disabled={applying || isEmpty(o)}
            title={
              needsApply
                ? `${count(needsApply, "view")} not applied or changed since: check them against their sources and record new versions`
                : "Check every view against its source again (dagwood features apply)"
            }
            onClick={() => void apply()}
          >
            {applying ? (
              <>
                <span className="spinner" /> Applying…
              </>
            ) : (
              `Apply${needsApply ? ` (${needsApply})` : ""}`
            )}
          </button>
          <button
            type="button"
            className="button small"
            data-testid="features-materialize"
            disabled={!online.length || materializing !== null || storeDown}
            title={
              storeDown
                ? "The online store cannot be reached (see above): start it or fix dagwood.json, then Refresh"
                : online.length
                  ? "Write the latest feature rows per key into the online store"
                  : "No view is online: nothing to materialise"
            }
            onClick={() => setMaterializing("all")}
          >
            Materialize…
          </button>
        </span>
      </div>
      {materializing !== null && (
        <MaterializeForm
          views={materializing === "all" ? online.map((v) => v.name) : materializing}
          all={materializing === "all"}
          onClose={() => setMaterializing(null)}
          onDone={() => {
            setMaterializing(null);
            onChanged();
          }}
        />
      )}
      {applyError && !o.problems.length && (
        <div className="panel-error features-apply-error" data-testid="features-apply-error">
          <button
            type="button"
            className="icon-button features-dismiss"
            aria-label="Dismiss"
            onClick={() => setApplyError(null)}
          >
            ×
          </button>
          <strong>Apply refused</strong> — nothing was recorded. Fix the definitions or their sources and
          apply again:
          <pre className="mono">{applyError}</pre>
        </div>
      )}
      <OnlineStoreProblem online={o.online} />
      {o.problems.length > 0 && <Problems problems={o.problems} refused={applyError !== null} />}
      {isEmpty(o) ? (
        o.problems.length ? null : (
          <EmptyState />
        )
      ) : (
        <div className="features-body">
          <Sidebar overview={o} shown={shown} onChoose={choose} />
          <div className="features-detail" data-testid="features-detail">
            {shown?.kind === "view" && (
              <ViewDetail
                key={`view:${shown.name}`}
                view={o.views.find((v) => v.name === shown.name)!}
                overview={o}
                onChanged={onChanged}
                onApply={() => void apply()}
                applying={applying}
                onMaterialize={(name) => setMaterializing([name])}
                storeDown={storeDown}
                onChoose={choose}
              />
            )}
            {shown?.kind === "service" && (
              <ServiceDetail
                key={`service:${shown.name}`}
                service={o.services.find((s) => s.name === shown.name)!}
                overview={o}
                onChoose={choose}
              />
            )}
            {shown?.kind === "entity" && (
              <EntityDetail
                key={`entity:${shown.name}`}
                entity={o.entities.find((e) => e.name === shown.name)!}
                views={o.views}
                onChoose={choose}
              />
            )}
            {shown?.kind === "history" && <HistoryDetail records={o.materializations} onChoose={choose} />}
          </div>
        </div>
      )}
    </div>
  );
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function OnlineStore({ online }: { online: FeaturesOverview["online"] }) {
  const kind = online.kind === "sqlite" ? "SQLite" : "Redis";
  return (
    <span
      className={`online-store small${online.error ? " online-error" : ""}`}
      data-testid="online-store"
      title={`Online store: ${kind} at ${online.location}${online.error ? ` — unreachable: ${online.error}` : ""}`}
    >
      Online store: <strong>{kind}</strong> <span className="mono ellipsis">{online.location}</span>
      {online.error && <strong> · unreachable</strong>}
    </span>
  );
}

/** The online store cannot be reached: why, and what still works. */
function OnlineStoreProblem({ online }: { online: FeaturesOverview["online"] }) {
  if (!online.error) return null;
  const kind = online.kind === "sqlite" ? "SQLite" : "Redis";
  return (
    <div className="features-problems online-problem" role="alert" data-testid="online-store-error">
      <strong>
        The online store ({kind}, <span className="mono">{online.location}</span>) cannot be reached.
      </strong>{" "}
      {online.error}
      {/dagwood\.json/.test(online.error)
        ? ""
        : ` Check "online" in dagwood.json${online.kind === "redis" ? " and that the Redis server runs" : ""}.`}
      <div className="muted small">
        Definitions and sources below are read without it; Materialize and lookups need it.
      </div>
    </div>
  );
}

function Problems({ problems, refused }: { problems: FeatureDefinitionProblem[]; refused: boolean }) {
  return (
    <div className="features-problems" role="alert" data-testid="features-problems">
      {refused && (
        <div className="features-refused" data-testid="features-apply-error">
          Apply refused — nothing was recorded.
        </div>
      )}
      <strong>
        {count(problems.length, "problem")} in <span className="mono">features/*.json</span>
      </strong>{" "}
      <span className="muted small">
        — what could still be read is below; fix these and press Apply (or run{" "}
        <span className="mono">dagwood features apply</span>).
      </span>
      <ul>
        {problems.map((p) => (
          <li key={`${p.file}:${p.path}:${p.message}`} data-testid="features-problem">
            <span className="mono">{p.file}</span>
            {p.path && (
              <>
                {" at "}
                <span className="mono problem-path">{p.path}</span>
              </>
            )}
            : {p.message}
          </li>
        ))}
      </ul>
    </div>
  );
}

const EXAMPLE = `{
  "format": "dagwood.features/1",
  "entities": [{ "name": "driver", "joinKeys": ["driver_id"] }],
  "featureViews": [{
    "name": "driver_stats",
    "entities": ["driver"],
    "ttl": "1d",
    "source": { "path": "data/driver_stats.csv", "timestampField": "event_timestamp" },
    "features": [
      { "name": "conv_rate", "type": "Float64" },
      { "name": "trips", "type": "Int64" }
    ]
  }],
  "featureServices": [{ "name": "ranker", "features": ["driver_stats"] }]
}`;

function EmptyState() {
  return (
    <div className="view-empty features-empty" data-testid="features-empty">
      <h3>No feature definitions yet</h3>
      <p className="muted">
        Entities, feature views and feature services are JSON files in the project's{" "}
        <span className="mono">features/</span> folder, reviewed like code. Create one, e.g.{" "}
        <span className="mono">features/drivers.json</span>:
      </p>
      <pre className="features-snippet mono">{EXAMPLE}</pre>
      <ol className="features-steps">
        <li>
          Press <strong>Apply</strong> here (or run <span className="mono">dagwood features apply</span>):
          each view is checked against its source and its version recorded.
        </li>
        <li>
          <strong>Materialize</strong> to fill the online store, then look a key up in the view.
        </li>
      </ol>
      <p className="muted small">
        The walkthrough from a definition to an online lookup:{" "}
        <span className="link-like" title="In the project's README.md, section “Feature store”">
          {README_SECTION}
        </span>
        .
      </p>
    </div>
  );
}

function Sidebar({
  overview: o,
  shown,
  onChoose,
}: {
  overview: FeaturesOverview;
  shown: FeatureChoice | null;
  onChoose(c: FeatureChoice): void;
}) {
  const is = (kind: FeatureChoice["kind"], name: string) => shown?.kind === kind && shown.name === name;
  return (
    <nav className="features-sidebar" aria-label="Feature store" data-testid="features-sidebar">
      <h4>Feature views</h4>
      {!o.views.length && <p className="muted small">None.</p>}
      {o.views.map((v) => {
        const f = freshnessOf(v, o.online.error);
        return (
          <button
            type="button"
            key={v.name}
            className={`features-item${is("view", v.name) ? " active" : ""}`}
            data-testid={`feature-view-${v.name}`}
            onClick={() => onChoose({ kind: "view", name: v.name })}
          >
            <span className="ellipsis features-item-name">{v.name}</span>
            <span className="features-item-meta">
              {v.version === null ? (
                <span className="version-chip unapplied" title="Not applied yet">
                  new
                </span>
              ) : (
                <span
                  className={`version-chip${v.changedSinceApply ? " changed" : ""}`}
                  title={v.changedSinceApply ? `Changed since v${v.version} was applied` : "Applied version"}
                >
                  v{v.version}
                  {v.changedSinceApply ? "*" : ""}
                </span>
              )}
              <span className={`fresh-dot fresh-${f.state}`} title={`${f.label}: ${f.detail}`} />
            </span>
          </button>
        );
      })}
      <h4>Services</h4>
      {!o.services.length && <p className="muted small">None.</p>}
      {o.services.map((s) => (
        <button
          type="button"
          key={s.name}
          className={`features-item${is("service", s.name) ? " active" : ""}`}
          data-testid={`feature-service-${s.name}`}
          onClick={() => onChoose({ kind: "service", name: s.name })}
        >
          <span className="ellipsis features-item-name">{s.name}</span>
          <span className="muted small features-item-meta">
            {s.models.length ? count(s.models.length, "model") : ""}
          </span>
        </button>
      ))}
      <h4>Entities</h4>
      {!o.entities.length && <p className="muted small">None.</p>}
      {o.entities.map((e) => (
        <button
          type="button"
          key={e.name}
          className={`features-item${is("entity", e.name) ? " active" : ""}`}
          data-testid={`feature-entity-${e.name}`}
          onClick={() => onChoose({ kind: "entity", name: e.name })}
        >
          <span className="ellipsis features-item-name">{e.name}</span>
          <span className="muted small mono ellipsis features-item-meta">{e.joinKeys.join(", ")}</span>
        </button>
      ))}
      <h4>Online store</h4>
      <button
        type="button"
        className={`features-item${shown?.kind === "history" ? " active" : ""}`}
        data-testid="feature-history"
        onClick={() => onChoose({ kind: "history", name: "" })}
      >
        <span className="features-item-name">Materialisations</span>
        <span className="muted small features-item-meta">{o.materializations.length || ""}</span>
      </button>
    </nav>
  );
}

function Tags({ tags }: { tags: Record<string, string> }) {
  const entries = Object.entries(tags);
  if (!entries.length) return <span className="muted">—</span>;
  return (
    <span className="features-tags">
      {entries.map(([k, v]) => (
        <span key={k} className="features-tag">
          {k}
          {v ? `: ${v}` : ""}
        </span>
      ))}
    </span>
  );
}

function ViewDetail({
  view: v,
  overview,
  onApply,
  applying,
  onMaterialize,
  storeDown,
  onChoose,
}: {
  view: FeatureViewSummary;
  overview: FeaturesOverview;
  onChanged(): void;
  onApply(): void;
  applying: boolean;
  onMaterialize(name: string): void;
  storeDown: boolean;
  onChoose(c: FeatureChoice): void;
}) {
  const f = freshnessOf(v, overview.online.error);
  const last = v.freshness.lastMaterialized;
  const usedBy = overview.services.filter((s) => s.features.some((x) => x.view === v.name));
  const runs = overview.materializations.filter((m) => m.view === v.name);
  return (
    <div className="feature-detail" data-testid={`view-detail-${v.name}`}>
      <header className="feature-head">
        <h3 className="ellipsis">{v.name}</h3>
        {v.version === null ? (
          <span className="version-chip unapplied" data-testid="view-version">
            not applied
          </span>
        ) : (
          <span className="version-chip" data-testid="view-version">
            v{v.version}
          </span>
        )}
        <span className={`fresh-badge fresh-${f.state}`} title={f.detail} data-testid="view-freshness">
          {f.label}
        </span>
        <span className="feature-head-actions">
          {(v.version === null || v.changedSinceApply) && (
            <span className="changed-note small" data-testid="view-changed">
              {v.version === null ? "never applied" : "changed since apply"} —{" "}
              <button
                type="button"
                className="button small primary"
                data-testid="view-apply"
                disabled={applying}
                onClick={onApply}
              >
                Apply
              </button>
            </span>
          )}
          <button
            type="button"
            className="button small"
            data-testid="view-materialize"
            disabled={!v.online || storeDown}
            title={
              storeDown
                ? "The online store cannot be reached (see above)"
                : v.online
                  ? `Materialise ${v.name} into the online store`
                  : "online: false in its definition"
            }
            onClick={() => onMaterialize(v.name)}
          >
            Materialize…
          </button>
        </span>
      </header>
      {v.description && <p className="feature-description">{v.description}</p>}
      <div className="feature-grid">
        <section className="feature-section">
          <h4>Definition</h4>
          <dl className="feature-facts">
            <dt>Entities</dt>
            <dd>
              {v.entities.map((e, i) => (
                <span key={e}>
                  {i > 0 && ", "}
                  <button
                    type="button"
                    className="link-button"
                    onClick={() => onChoose({ kind: "entity", name: e })}
                  >
                    {e}
                  </button>
                </span>
              ))}{" "}
              <span className="muted">
                (join key{v.joinKeys.length === 1 ? "" : "s"}{" "}
                <span className="mono">{v.joinKeys.join(", ")}</span>)
              </span>
            </dd>
            <dt>TTL</dt>
            <dd title={`ttl: "${v.ttl}"`}>{ttlWords(v.ttl)}</dd>
            <dt>Source</dt>
            <dd data-testid="view-source">
              {v.source.kind === "file" ? (
                <span className="mono ellipsis" title={v.source.path}>
                  {v.source.path}
                </span>
              ) : (
                <span>
                  a pipeline's <span className="mono">features.view</span> block
                </span>
              )}
              <span className="muted small">
                {" "}
                · event time <span className="mono">{v.source.timestampField}</span>
                {v.source.createdTimestampColumn && (
                  <>
                    , created <span className="mono">{v.source.createdTimestampColumn}</span>
                  </>
                )}
              </span>
            </dd>
            <dt>Owner</dt>
            <dd>{v.owner ?? <span className="muted">—</span>}</dd>
            <dt>Tags</dt>
            <dd>
              <Tags tags={v.tags} />
            </dd>
            <dt>Online</dt>
            <dd>{v.online ? "yes" : "no (offline only)"}</dd>
            <dt>File</dt>
            <dd className="mono">{v.file}</dd>
            <dt>Services</dt>
            <dd>
              {usedBy.length ? (
                usedBy.map((s, i) => (
                  <span key={s.name}>
                    {i > 0 && ", "}
                    <button
                      type="button"
                      className="link-button"
                      onClick={() => onChoose({ kind: "service", name: s.name })}
                    >
                      {s.name}
                    </button>
                  </span>
                ))
              ) : (
                <span className="muted">none</span>
              )}
            </dd>
          </dl>
        </section>
        <section className="feature-section" data-testid="view-freshness-section">
          <h4>Freshness</h4>
          <dl className="feature-facts">
            <dt>Last materialised</dt>
            <dd data-testid="view-last-materialized">
              {last ? (
                <>
                  <span className="mono">{windowWords(last)}</span> <span className="muted small">UTC</span>
                  <div className="small">
                    at {formatTime(last.at)} · {last.rows.toLocaleString("en-US")} row
                    {last.rows === 1 ? "" : "s"} · {formatDuration(last.ms)} · v{last.version}
                  </div>
                </>
              ) : overview.online.error ? (
                <span className="muted">not known: the online store cannot be reached</span>
              ) : (
                <span className="muted">never</span>
              )}
            </dd>
            <dt>Newest event</dt>
            <dd data-testid="view-newest-event">
              {v.freshness.sourceError ? (
                <span className="error-text">{v.freshness.sourceError}</span>
              ) : v.freshness.newestEvent ? (
                <>
                  <span className="mono">{utcShort(v.freshness.newestEvent)}</span>{" "}
                  <span className="muted small">UTC · {ago(v.freshness.newestEvent)}</span>
                </>
              ) : (
                <span className="muted">—</span>
              )}
            </dd>
            <dt>Source rows</dt>
            <dd>{v.freshness.rows === null ? "—" : v.freshness.rows.toLocaleString("en-US")}</dd>
          </dl>
          <p className={`small fresh-words fresh-${f.state}`}>{f.detail}</p>
        </section>
      </div>
      <div className="feature-grid">
        <section className="feature-section">
          <h4>Schema</h4>
          <table className="runs-table feature-schema" data-testid="view-schema">
            <thead>
              <tr>
                <th>feature</th>
                <th>type</th>
              </tr>
            </thead>
            <tbody>
              {v.joinKeys.map((k) => (
                <tr key={`key:${k}`} className="muted">
                  <td className="mono">{k}</td>
                  <td>join key</td>
                </tr>
              ))}
              {v.features.map((x) => (
                <tr key={x.name}>
                  <td className="mono">{x.name}</td>
                  <td className="mono">{feastType(x.type)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section className="feature-section">
          <h4>Get features for a key</h4>
          {v.online ? (
            <LookupBox overview={overview} initial={{ view: v.name }} />
          ) : (
            <p className="muted small" data-testid="lookup-offline">
              {v.name} is offline only (<span className="mono">"online": false</span>): it is not in the
              online store. Use it in training sets, or set <span className="mono">"online": true</span> and
              materialise it to look keys up.
            </p>
          )}
        </section>
      </div>
      <section className="feature-section">
        <h4>
          Materialisations <span className="muted small">rows written per run, oldest left</span>
        </h4>
        {runs.length ? (
          <>
            <HistoryChart records={runs} width={560} />
            <HistoryTable records={runs} showView={false} />
          </>
        ) : (
          <p className="muted small" data-testid="view-no-history">
            {v.online ? (
              <>
                Not materialised yet: press <strong>Materialize…</strong> to write its latest rows per key
                into the online store.
              </>
            ) : (
              "Offline only: never materialised."
            )}
          </p>
        )}
      </section>
    </div>
  );
}

function ServiceDetail({
  service: s,
  overview,
  onChoose,
}: {
  service: FeatureServiceSummary;
  overview: FeaturesOverview;
  onChoose(c: FeatureChoice): void;
}) {
  return (
    <div className="feature-detail" data-testid={`service-detail-${s.name}`}>
      <header className="feature-head">
        <h3 className="ellipsis">{s.name}</h3>
        <span className="muted small">feature service</span>
      </header>
      {s.description && <p className="feature-description">{s.description}</p>}
      <div className="feature-grid">
        <section className="feature-section">
          <h4>Features</h4>
          <table className="runs-table" data-testid="service-features">
            <thead>
              <tr>
                <th>view</th>
                <th>features</th>
              </tr>
            </thead>
            <tbody>
              {s.features.map((f) => (
                <tr key={f.view} onClick={() => onChoose({ kind: "view", name: f.view })}>
                  <td>
                    <button type="button" className="link-button">
                      {f.view}
                    </button>
                  </td>
                  <td className="mono features-wrap">{f.features.join(", ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <dl className="feature-facts">
            <dt>Owner</dt>
            <dd>{s.owner ?? <span className="muted">—</span>}</dd>
            <dt>Tags</dt>
            <dd>
              <Tags tags={s.tags} />
            </dd>
            <dt>File</dt>
            <dd className="mono">{s.file}</dd>
          </dl>
        </section>
        <section className="feature-section" data-testid="service-models">
          <h4>Models</h4>
          {s.models.length ? (
            <ul className="features-models">
              {s.models.map((m) => (
                <li key={`${m.name}:${m.version}`}>
                  <button
                    type="button"
                    className="link-button"
                    title={`Open ${m.name} in the Models view`}
                    onClick={() => openModel(m.name)}
                  >
                    {m.name} v{m.version}
                  </button>
                  {m.aliases.map((a) => (
                    <span key={a} className="features-tag">
                      @{a}
                    </span>
                  ))}
                </li>
              ))}
            </ul>
          ) : (
            <p className="muted small">
              No registered model names this service yet. A <span className="mono">register</span> block with{" "}
              <span className="mono">featureService: "{s.name}"</span> records it with the version, and the
              served model can then be called with the entity keys only.
            </p>
          )}
        </section>
      </div>
      <section className="feature-section">
        <h4>Get features for a key</h4>
        <LookupBox overview={overview} initial={{ service: s.name }} />
      </section>
    </div>
  );
}

function EntityDetail({
  entity: e,
  views,
  onChoose,
}: {
  entity: FeatureEntitySummary;
  views: FeatureViewSummary[];
  onChoose(c: FeatureChoice): void;
}) {
  const using = views.filter((v) => v.entities.includes(e.name));
  return (
    <div className="feature-detail" data-testid={`entity-detail-${e.name}`}>
      <header className="feature-head">
        <h3 className="ellipsis">{e.name}</h3>
        <span className="muted small">entity</span>
      </header>
      {e.description && <p className="feature-description">{e.description}</p>}
      <section className="feature-section">
        <dl className="feature-facts">
          <dt>Join keys</dt>
          <dd className="mono">{e.joinKeys.join(", ")}</dd>
          <dt>Value type</dt>
          <dd className="mono">
            {e.valueType ? feastType(e.valueType) : <span className="muted">not declared</span>}
          </dd>
          <dt>Owner</dt>
          <dd>{e.owner ?? <span className="muted">—</span>}</dd>
          <dt>Tags</dt>
          <dd>
            <Tags tags={e.tags} />
          </dd>
          <dt>File</dt>
          <dd className="mono">{e.file}</dd>
          <dt>Views</dt>
          <dd>
            {using.length ? (
              using.map((v, i) => (
                <span key={v.name}>
                  {i > 0 && ", "}
                  <button
                    type="button"
                    className="link-button"
                    onClick={() => onChoose({ kind: "view", name: v.name })}
                  >
                    {v.name}
                  </button>
                </span>
              ))
            ) : (
              <span className="muted">no view uses it</span>
            )}
          </dd>
        </dl>
      </section>
    </div>
  );
}

function HistoryDetail({
  records,
  onChoose,
}: {
  records: FeatureMaterialization[];
  onChoose(c: FeatureChoice): void;
}) {
  return (
    <div className="feature-detail" data-testid="history-detail">
      <header className="feature-head">
        <h3>Materialisations</h3>
        <span className="muted small">the latest {records.length}, every view</span>
      </header>
      {records.length ? (
        <>
          <HistoryChart records={records} width={700} byView />
          <HistoryTable records={records} showView onChoose={onChoose} />
        </>
      ) : (
        <p className="muted">
          Nothing materialised yet. <strong>Materialize…</strong> (above) writes each online view's latest
          rows per key into the online store;{" "}
          <span className="mono">dagwood features materialize-incremental --end now</span> does the same from
          the CLI.
        </p>
      )}
    </div>
  );
}

function HistoryTable({
  records,
  showView,
  onChoose,
}: {
  records: FeatureMaterialization[];
  showView: boolean;
  onChoose?(c: FeatureChoice): void;
}) {
  const shown = useMemo(() => records.slice(0, 50), [records]);
  return (
    <table className="runs-table feature-history" data-testid="history-table">
      <thead>
        <tr>
          <th>at</th>
          {showView && <th>view</th>}
          <th>window (UTC)</th>
          <th className="num">rows</th>
          <th className="num">time</th>
          <th className="num">version</th>
        </tr>
      </thead>
      <tbody>
        {shown.map((m) => (
          <tr key={`${m.view}:${m.at}:${m.start}`} data-testid="history-row">
            <td>{formatTime(m.at)}</td>
            {showView && (
              <td>
                <button
                  type="button"
                  className="link-button"
                  onClick={() => onChoose?.({ kind: "view", name: m.view })}
                >
                  {m.view}
                </button>
              </td>
            )}
            <td className="mono">{windowWords(m)}</td>
            <td className="num">{m.rows.toLocaleString("en-US")}</td>
            <td className="num">{formatDuration(m.ms)}</td>
            <td className="num">v{m.version}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export default FeaturesView;
