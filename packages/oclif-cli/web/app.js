// prtip's web dashboard: one page, preact + htm as ES modules served from node_modules.
import { html, render, useState, useEffect, useRef } from 'preact-htm';

const TOKEN = document.querySelector('meta[name=prtip-token]').content;
const api = async (path, opts = {}) => {
  const res = await fetch(path, { ...opts, headers: { authorization: `Bearer ${decodeURIComponent(TOKEN)}`, ...(opts.body ? { 'content-type': 'application/json' } : {}) } });
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
};
const words = (s) => (s.match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((w) => w.replace(/^["']|["']$/g, ''));
const clock = (ms) => { const s = Math.round((ms ?? 0) / 1000); return `${Math.floor(s / 3600)}:${String(Math.floor(s % 3600 / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`; };
const route = () => (location.hash.match(/^#\/scans\/([^/]+)/) ?? [])[1];

function NewScan({ onStarted }) {
  const [text, setText] = useState('-sT -p 1-1024 127.0.0.1');
  const [error, setError] = useState('');
  const start = async (e) => {
    e.preventDefault();
    setError('');
    try {
      const r = await api('/api/scans', { method: 'POST', body: JSON.stringify({ args: words(text) }) });
      onStarted(r.id);
    } catch (err) { setError(err.message); }
  };
  return html`<section><h2>New scan</h2><form onSubmit=${start}>
    <label class="mono">prtip scan <input type="text" id="scan-args" value=${text} onInput=${(e) => setText(e.target.value)} /></label>
    <button id="scan-start" type="submit">Start</button></form>
    ${error && html`<div class="error" id="scan-error">${error}</div>`}</section>`;
}

function ScanList({ selected, refresh }) {
  const [scans, setScans] = useState([]);
  useEffect(() => { api('/api/scans?limit=50').then((r) => setScans(r.items)).catch(() => {}); }, [refresh, selected]);
  return html`<section><h2>Scans</h2>${scans.length === 0 && html`<div>none yet</div>`}
    ${scans.map((s) => html`<a class=${`scan ${s.id === selected ? 'sel' : ''}`} href=${`#/scans/${s.id}`}>
      <span class=${`state ${s.state}`}>${s.state}</span> <span class="mono">${(s.args ?? '').replace(/^prtip scan /, '')}</span></a>`)}</section>`;
}

function Progress({ status, info }) {
  const state = info?.state;
  if (state && state !== 'running') {
    const send = info.counters?.send ?? {};
    const detect = info.counters?.detect;
    return html`<div id="progress"><div class="bar"><div style="width:100%"></div></div>
      <div class="kv" style="margin-top:6px">
        <span>finished</span><span>${state}${info.endTime && info.startTime ? ` in ${clock(info.endTime - info.startTime)}` : ''}</span>
        <span>ports</span><span><span class="open">${send.open ?? 0} open</span>, ${send.closed ?? 0} closed, ${send.filtered ?? 0} filtered (${send.sent ?? 0} probes sent, ${send.retries ?? 0} retries)</span>
        ${detect && html`<span>services</span><span>${(detect.matched ?? 0) + (detect.softmatched ?? 0)} identified of ${detect.ports ?? 0} probed</span>`}
      </div></div>`;
  }
  if (!status) return html`<div>${state === 'running' ? 'starting…' : ''}</div>`;
  const pct = status.percent ?? 0;
  return html`<div id="progress"><div class="bar"><div style=${`width:${pct}%`}></div></div>
    <div class="kv" style="margin-top:6px">
      <span>phase</span><span>${status.phase}${status.scanType ? ` (${status.scanType})` : ''}</span>
      <span>done</span><span>${status.done}${status.total != null ? ` / ${status.total} (${pct.toFixed(1)}%)` : ''}</span>
      <span>rate</span><span>${Math.round(status.pps)} ${status.stage === 'detect' ? 'probes/s' : 'pps'} (avg ${Math.round(status.avgPps)})</span>
      <span>found</span><span><span class="open">${status.openPorts ?? status.open} open ports</span>, ${status.replies} ${status.stage === 'detect' ? 'services identified' : 'replies'}, ${status.retries} retries, ${status.drops} drops</span>
      <span>elapsed</span><span>${clock(status.elapsedMs)}${status.etaMs != null ? `, ETA ${clock(status.etaMs)}` : ''}</span>
    </div></div>`;
}

function ScanView({ id, onChange }) {
  const [info, setInfo] = useState(null);
  const [status, setStatus] = useState(null);
  const [live, setLive] = useState([]);
  const [ports, setPorts] = useState([]);
  const [services, setServices] = useState([]);
  const [host, setHost] = useState(null);
  const [hostInfo, setHostInfo] = useState(null);
  const [error, setError] = useState('');
  const load = async () => {
    try {
      setInfo(await api(`/api/scans/${id}`));
      setPorts((await api(`/api/scans/${id}/ports?state=open&limit=1000`)).items);
      setServices((await api(`/api/scans/${id}/services?limit=1000`)).items);
    } catch (err) { setError(err.message); }
  };
  useEffect(() => {
    setInfo(null); setStatus(null); setLive([]); setPorts([]); setServices([]); setHost(null); setError('');
    load();
    const es = new EventSource(`/api/scans/${id}/events?token=${TOKEN}`);
    es.addEventListener('status', (e) => setStatus(JSON.parse(e.data)));
    es.addEventListener('port', (e) => { const p = JSON.parse(e.data); setLive((l) => [...l, p]); });
    es.addEventListener('service', (e) => { const s = JSON.parse(e.data); setServices((l) => [...l.filter((x) => !(x.ip === s.ip && x.port === s.port)), s]); });
    es.addEventListener('end', () => { es.close(); load(); onChange(); });
    es.onerror = () => es.close();
    return () => es.close();
  }, [id]);
  const stop = async () => { try { await api(`/api/scans/${id}`, { method: 'DELETE' }); load(); onChange(); } catch (err) { setError(err.message); } };
  const openRows = ports.length ? ports : live;
  const showHost = async (ip) => {
    setHost(ip);
    try { setHostInfo(await api(`/api/scans/${id}/hosts/${encodeURIComponent(ip)}`)); } catch (err) { setHostInfo(null); setError(err.message); }
  };
  const svc = (p) => services.find((s) => s.ip === p.ip && s.port === p.port && s.proto === p.proto);
  const hosts = [...new Set(openRows.map((p) => p.ip))];
  return html`<section>
    <h2>Scan <span class="mono">${id}</span> ${info && html`<span class=${`state ${info.state}`} id="scan-state">${info.state}</span>`}
      ${info?.state === 'running' && html` <button id="scan-stop" onClick=${stop}>Stop</button>`}</h2>
    ${info && html`<div class="mono" style="font-size:13px;margin-bottom:8px">prtip scan ${(info.args ?? []).join(' ')}</div>`}
    ${info && info.state !== 'running' && html`<div id="downloads" style="font-size:13px;margin-bottom:8px">download:
      ${[['xml', '-oX'], ['json', '-oJ'], ['csv', 'CSV'], ['normal', '-oN']].map(([f, label]) => html` <a href=${`/api/scans/${id}/report?format=${f}&token=${TOKEN}`} download>${label}</a>`)}</div>`}
    ${error && html`<div class="error">${error}</div>`}
    <${Progress} status=${status ?? info?.progress} info=${info} />
    </section>
    <section><h2>Open ports (<span id="open-count">${openRows.length}</span>)</h2>
    <table id="open-ports"><thead><tr><th>host</th><th>port</th><th>service</th><th>version</th></tr></thead><tbody>
    ${openRows.map((p) => { const s = svc(p); return html`<tr class="port-row"><td class="mono"><a href="#" onClick=${(e) => { e.preventDefault(); showHost(p.ip); }}>${p.ip}</a></td>
      <td class="mono">${p.port}/${p.proto}</td><td>${s?.name ?? ''}</td><td>${[s?.product, s?.version, s?.extrainfo].filter(Boolean).join(' ')}</td></tr>`; })}
    </tbody></table>
    ${hosts.length > 1 && html`<div style="font-size:12px;margin-top:6px">${hosts.length} hosts with open ports</div>`}</section>
    ${host && hostInfo && hostInfo.ip === host && html`<${HostView} h=${hostInfo} />`}`;
}

// One host as nmap's report shows it: ports that are not closed with their services and scripts,
// host scripts, OS matches (best first), traceroute hops. All of it from the database.
const scriptBlock = (sc) => html`<div class="script"><span class="mono">${sc.id}</span><pre>${sc.output}</pre></div>`;
function HostView({ h }) {
  const portScripts = (p) => h.scripts.filter((sc) => sc.port === p.port && sc.proto === p.proto);
  const hostScripts = h.scripts.filter((sc) => sc.port == null);
  return html`<section id="host-detail"><h2>Host <span class="mono">${h.ip}</span>
      ${h.host && html` <span class="mono" id="host-state">${h.host.state}${h.host.reason ? ` (${h.host.reason})` : ''}</span>`}
      ${h.host?.hostname && html` <span class="mono">${h.host.hostname}</span>`}</h2>
    <table id="host-ports"><thead><tr><th>port</th><th>state</th><th>reason</th><th>service</th><th>version</th></tr></thead><tbody>
    ${h.ports.map((p) => html`<tr class="host-port"><td class="mono">${p.port}/${p.proto}</td><td>${p.state}${p.proxied ? ' (proxied?)' : ''}</td><td>${p.reason}</td>
        <td>${p.tunnel === 'ssl' && p.service ? `ssl/${p.service}` : (p.service ?? '')}</td><td>${[p.product, p.version, p.extrainfo].filter(Boolean).join(' ')}</td></tr>
      ${portScripts(p).length > 0 && html`<tr class="port-scripts"><td></td><td colspan="4">${portScripts(p).map(scriptBlock)}</td></tr>`}`)}
    </tbody></table>
    ${h.closed > 0 && html`<div style="font-size:12px">Not shown: ${h.closed} closed ports</div>`}
    ${hostScripts.length > 0 && html`<h3>Host script results</h3><div id="host-scripts">${hostScripts.map(scriptBlock)}</div>`}
    ${h.os.length > 0 && html`<h3>OS</h3><table id="host-os"><thead><tr><th>match</th><th>accuracy</th><th>type</th><th>running</th><th>CPE</th></tr></thead><tbody>
      ${h.os.map((m) => html`<tr class="os-match"><td>${m.name}</td><td>${m.accuracy}%</td><td>${m.devicetype ?? ''}</td>
        <td>${[m.vendor, m.osfamily, m.osgen].filter(Boolean).join(' ')}</td><td class="mono">${(m.cpe ?? []).join(' ')}</td></tr>`)}</tbody></table>`}
    ${h.hops.length > 0 && html`<h3>Traceroute</h3><table id="host-hops"><thead><tr><th>hop</th><th>rtt</th><th>address</th></tr></thead><tbody>
      ${h.hops.map((x) => html`<tr><td>${x.ttl}</td><td>${x.rtt_ms != null ? `${x.rtt_ms.toFixed(2)} ms` : '...'}</td><td class="mono">${x.ip ? `${x.host ? `${x.host} (${x.ip})` : x.ip}` : ''}</td></tr>`)}</tbody></table>`}
  </section>`;
}

function Sql() {
  const [text, setText] = useState("select port, count(*) as n from ports where state = 'open' group by port order by n desc");
  const [result, setResult] = useState(null);
  const [error, setError] = useState('');
  const run = async (e) => {
    e.preventDefault();
    setError('');
    try { setResult(await api('/api/sql', { method: 'POST', body: JSON.stringify({ sql: text }) })); } catch (err) { setResult(null); setError(err.message); }
  };
  return html`<section><h2>SQL (read-only)</h2><form onSubmit=${run}>
    <textarea id="sql-text" rows="3" onInput=${(e) => setText(e.target.value)}>${text}</textarea><button id="sql-run" type="submit">Run</button></form>
    ${error && html`<div class="error" id="sql-error">${error}</div>`}
    ${result && html`<table id="sql-result"><thead><tr>${result.columns.map((c) => html`<th>${c}</th>`)}</tr></thead><tbody>
      ${result.rows.map((r) => html`<tr>${r.map((v) => html`<td class="mono">${typeof v === 'object' ? JSON.stringify(v) : String(v)}</td>`)}</tr>`)}</tbody></table>
      ${result.truncated && html`<div>(first ${result.rows.length} rows)</div>`}`}</section>`;
}

function App() {
  const [id, setId] = useState(route());
  const [refresh, setRefresh] = useState(0);
  useEffect(() => { const f = () => setId(route()); addEventListener('hashchange', f); return () => removeEventListener('hashchange', f); }, []);
  return html`<header><h1>prtip</h1><a href="/api/openapi.json?token=${TOKEN}">API</a></header>
    <main><div><${NewScan} onStarted=${(sid) => { location.hash = `#/scans/${sid}`; setRefresh((n) => n + 1); }} />
      <${ScanList} selected=${id} refresh=${refresh} /></div>
    <div>${id ? html`<${ScanView} id=${id} onChange=${() => setRefresh((n) => n + 1)} />` : html`<section>Start a scan or pick one on the left.</section>`}
      <${Sql} /></div></main>`;
}

render(html`<${App} />`, document.getElementById('app'));
