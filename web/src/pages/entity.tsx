// One entity: its state and controls, a history graph for numbers (uPlot: small, fast, canvas)
// and a timeline for on/off and other states, over 1 h / 24 h / 7 d / 30 d / 1 y; its attributes,
// the MQTT topics it uses and, for a discovered entity, the raw discovery payload.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, live, newest } from '../api.js';
import { type Call, Controls, describe, type Entity, type Device } from './controls.js';

const RANGES = [
  ['1 h', 3600_000],
  ['24 h', 24 * 3600_000],
  ['7 d', 7 * 24 * 3600_000],
  ['30 d', 30 * 24 * 3600_000],
  ['1 y', 365 * 24 * 3600_000],
] as const;

type Point = { t: number; state?: unknown; min?: number; max?: number; mean?: number };
interface History {
  resolution: 'raw' | '5m' | '1h';
  points: Point[];
  since: number;
  until: number;
}
interface Marker {
  action: string;
  caller: string;
  time: number;
  result: string;
}

/** Who asked: an automation step (`automations.yaml#id.actions[0]`), an API user, or a script. */
function Caller({ caller }: { caller: string }) {
  const step = /^(.*)#([^.]+)\.(.+)$/.exec(caller);
  if (step)
    return (
      <a href="#/automations">
        automation {step[2]} ({step[3]})
      </a>
    );
  if (caller.startsWith('api:')) return <span>{caller.slice(4)} (app or API)</span>;
  return <a href="#/scripts">script {caller}</a>;
}

function Graph({ history, unit, markers }: { history: History; unit?: string; markers: Marker[] }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const raw = history.resolution === 'raw';
    const pts = history.points.filter((p) => (raw ? typeof p.state === 'number' : typeof p.mean === 'number'));
    const xs = pts.map((p) => p.t / 1000);
    const series: uPlot.Series[] = [{}, { label: raw ? 'value' : 'mean', stroke: '#2563eb', width: 2 }];
    const data: uPlot.AlignedData = [xs, pts.map((p) => (raw ? (p.state as number) : p.mean!))];
    if (!raw) {
      series.push({ label: 'min', stroke: '#93c5fd', width: 1 }, { label: 'max', stroke: '#93c5fd', width: 1 });
      data.push(
        pts.map((p) => p.min!),
        pts.map((p) => p.max!),
      );
    }
    const width = Math.max(280, el.current.clientWidth);
    const plot = new uPlot(
      {
        width,
        height: 220,
        series,
        scales: { x: { time: true, min: history.since / 1000, max: history.until / 1000 } },
        axes: [{}, { label: unit ?? '' }],
        legend: { show: !raw },
        // the actions asked of the entity, as dashed lines where they happened
        hooks: {
          draw: [
            (u) => {
              const ctx = u.ctx;
              ctx.save();
              ctx.strokeStyle = '#7c3aed';
              ctx.setLineDash([4, 3]);
              for (const m of markers) {
                const x = u.valToPos(m.time / 1000, 'x', true);
                if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
                ctx.beginPath();
                ctx.moveTo(x, u.bbox.top);
                ctx.lineTo(x, u.bbox.top + u.bbox.height);
                ctx.stroke();
              }
              ctx.restore();
            },
          ],
        },
      },
      data,
      el.current,
    );
    return () => plot.destroy();
  }, [history, unit, markers]);
  return <div class="graph" ref={el} data-points={history.points.length} data-markers={markers.length} />;
}

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2'];
type Metric = NonNullable<Entity['declared']>['metrics'][number];

/** A metric (e154's EntitySetMetric): one line per item over the chosen range. */
function MetricGraph({
  entity,
  metric,
  range,
  updated,
}: {
  entity: string;
  metric: Metric;
  range: number;
  updated?: number;
}) {
  const el = useRef<HTMLDivElement>(null);
  const [data, setData] = useState<{ items: Record<string, History> } | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    const until = Date.now();
    void api<{ items: Record<string, History> }>(
      'GET',
      `/api/entities/${encodeURIComponent(entity)}/metrics/${encodeURIComponent(metric.name)}?since=${until - range}&until=${until}`,
    ).then(setData, (err) => setError((err as Error).message));
  }, [entity, metric.name, range, updated]);
  const count = data ? Object.values(data.items).reduce((n, h) => n + h.points.length, 0) : 0;
  useEffect(() => {
    if (!el.current || !data || count === 0) return;
    // one x axis: every item's times, each item's value at its own times (gaps elsewhere)
    const value = (p: Point) => (typeof p.state === 'number' ? p.state : p.mean);
    const times = [...new Set(Object.values(data.items).flatMap((h) => h.points.map((p) => p.t)))].sort(
      (a, b) => a - b,
    );
    const series: uPlot.Series[] = [{}];
    const columns: (number | null)[][] = [];
    metric.items.forEach((item, i) => {
      const at = new Map((data.items[item.name]?.points ?? []).map((p) => [p.t, value(p) ?? null]));
      series.push({
        label: item.description || item.name,
        stroke: item.color || COLORS[i % COLORS.length],
        width: 2,
        spanGaps: true,
      });
      columns.push(times.map((t) => at.get(t) ?? null));
    });
    const h = Object.values(data.items)[0]!;
    const plot = new uPlot(
      {
        width: Math.max(280, el.current.clientWidth),
        height: 200,
        series,
        scales: { x: { time: true, min: h.since / 1000, max: h.until / 1000 } },
        axes: [{}, { label: metric.unit ?? '' }],
      },
      [times.map((t) => t / 1000), ...columns] as uPlot.AlignedData,
      el.current,
    );
    return () => plot.destroy();
  }, [data, metric]);
  return (
    <div class="metric">
      <h3>{metric.description || metric.name}</h3>
      {error ? (
        <p class="error">{error}</p>
      ) : data && count === 0 ? (
        <p class="empty">Nothing recorded in this range.</p>
      ) : (
        <div class="graph" ref={el} data-points={count} />
      )}
    </div>
  );
}

/** On/off and other states as coloured stretches of time. */
function Timeline({ history, markers }: { history: History; markers: Marker[] }) {
  const pts = history.points.filter((p) => p.state !== undefined);
  const span = history.until - history.since || 1;
  return (
    <div class="timeline" role="img" aria-label={`${pts.length} changes`}>
      {pts.map((p, i) => {
        const end = pts[i + 1]?.t ?? history.until;
        const left = Math.max(0, ((p.t - history.since) / span) * 100);
        const width = Math.max(0.3, ((end - Math.max(p.t, history.since)) / span) * 100);
        const s = String(p.state);
        return (
          <span
            class={`seg ${s === 'on' ? 'on' : s === 'off' ? 'off' : 'other'}`}
            style={{ left: `${left}%`, width: `${width}%` }}
            title={`${s} from ${new Date(p.t).toLocaleString()}`}
          >
            {width > 8 ? s : ''}
          </span>
        );
      })}
      {markers.map((m) => (
        <span
          class="marker"
          style={{ left: `${((m.time - history.since) / span) * 100}%` }}
          title={`${m.action} by ${m.caller}`}
        />
      ))}
    </div>
  );
}

export function EntityPage({ id }: { id: string }) {
  const [e, setE] = useState<Entity | null>(null);
  const [device, setDevice] = useState<Device | null>(null);
  const [range, setRange] = useState<number>(RANGES[1][1]);
  const [history, setHistory] = useState<History | null>(null);
  const [error, setError] = useState('');
  const [pending, setPending] = useState<string | null>(null);
  const [markers, setMarkers] = useState<Marker[]>([]);
  const [rows, setRows] = useState<number | undefined>(undefined);
  const fresh = useRef(newest()).current;
  const load = () =>
    fresh(api<Entity>('GET', `/api/entities/${encodeURIComponent(id)}`))
      .then((x) => {
        setE(x);
        if (x.deviceId) void api<Device>('GET', `/api/devices/${encodeURIComponent(x.deviceId)}`).then(setDevice);
      })
      .catch((err) => setError((err as Error).message));
  const loadHistory = () => {
    const until = Date.now();
    void api<History>('GET', `/api/entities/${encodeURIComponent(id)}/history?since=${until - range}&until=${until}`)
      .then(setHistory)
      .catch((err) => setError((err as Error).message));
    void api<Marker[]>('GET', `/api/entities/${encodeURIComponent(id)}/actions?since=${until - range}&until=${until}`)
      .then(setMarkers)
      .catch(() => setMarkers([]));
  };
  useEffect(() => {
    void api<{ rows: Record<string, number> }>('GET', '/api/recorder').then(
      (u) => setRows(u.rows[id] ?? 0),
      () => {},
    );
    void load();
    return live(
      ['entities'],
      (ev) => {
        if (ev.data.entityId === id) void load();
      },
      '#',
      () => void load(),
    );
  }, [id]);
  useEffect(loadHistory, [id, range, e?.lastChanged]);
  const call: Call = async (x, action, params = {}) => {
    setPending('Waiting for the device…');
    try {
      await api('POST', `/api/entities/${encodeURIComponent(x.id)}/actions/${encodeURIComponent(action)}`, { params });
      setPending(null);
    } catch (err) {
      setPending((err as Error).message);
    }
  };
  if (error) return <p class="error">{error}</p>;
  if (!e) return <p class="loading">Loading…</p>;
  const numeric = history && (history.resolution !== 'raw' || history.points.some((p) => typeof p.state === 'number'));
  const a = e.attributes;
  const shown = Object.entries(a).filter(([k, v]) => v !== null && k !== 'settable');
  const topics = [
    typeof a.friendly_name === 'string' && e.source === 'zigbee2mqtt' ? `zigbee2mqtt/${a.friendly_name}` : undefined,
    typeof a.discovery_topic === 'string' ? a.discovery_topic : undefined,
  ].filter(Boolean);
  return (
    <section class="entity-page">
      <p>
        <a href="#/home">← Home</a>
        {device && (
          <>
            {' · '}
            <a href={`#/device/${encodeURIComponent(device.id)}`}>{device.name}</a>{' '}
            <span class="meta">{[device.manufacturer, device.model].filter(Boolean).join(' ')}</span>
          </>
        )}
      </p>
      <h1>{e.name}</h1>
      <p class="big-state">{e.available ? describe(e) : 'Unavailable'}</p>
      <div class="tile-controls">
        <Controls e={e} call={call} busy={pending === 'Waiting for the device…'} part="main" />
        <Controls e={e} call={call} busy={pending === 'Waiting for the device…'} part="extra" />
      </div>
      {pending && <p class={pending.startsWith('Waiting') ? 'pending' : 'error'}>{pending}</p>}
      <div class="ranges" role="group" aria-label="time range">
        {RANGES.map(([label, ms]) => (
          <button class={range === ms ? 'primary' : ''} aria-pressed={range === ms} onClick={() => setRange(ms)}>
            {label}
          </button>
        ))}
      </div>
      {history &&
        (history.points.length === 0 ? (
          <p class="empty">Nothing recorded in this range.</p>
        ) : numeric ? (
          <Graph
            history={history}
            markers={markers}
            unit={typeof a.unit_of_measurement === 'string' ? a.unit_of_measurement : undefined}
          />
        ) : (
          <Timeline history={history} markers={markers} />
        ))}
      {(e.declared?.metrics.length ?? 0) > 0 && (
        <>
          <h2>Metrics</h2>
          {e.declared!.metrics.map((m) => (
            <MetricGraph entity={e.id} metric={m} range={range} updated={e.lastUpdated ?? e.lastChanged} />
          ))}
        </>
      )}
      {markers.length > 0 && (
        <>
          <h2>What was asked of it</h2>
          <ul class="markers">
            {[...markers].reverse().map((m) => (
              <li>
                <time>{new Date(m.time).toLocaleString()}</time> {m.action} by <Caller caller={m.caller} />
                {m.result !== 'ok' && <span class="badge bad">{m.result}</span>}
              </li>
            ))}
          </ul>
        </>
      )}
      {shown.length > 0 && <h2>Attributes</h2>}
      <table class="attributes">
        <tbody>
          {shown.map(([k, v]) => (
            <tr>
              <th>{k.replace(/_/g, ' ')}</th>
              <td>{typeof v === 'object' ? JSON.stringify(v) : String(v)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="meta">
        <code>{e.id}</code> · {e.domain} · from {e.source}
        {rows !== undefined && <> · {rows.toLocaleString()} recorded states</>}
        {topics.length > 0 && (
          <>
            {' '}
            · topics:{' '}
            {topics.map((t) => (
              <code>{t}</code>
            ))}
          </>
        )}
      </p>
      {device?.discovery !== undefined && (
        <details>
          <summary>What the device announced</summary>
          <pre class="payload">{JSON.stringify(device.discovery, null, 2)}</pre>
        </details>
      )}
    </section>
  );
}
