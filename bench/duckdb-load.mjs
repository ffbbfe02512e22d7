#!/usr/bin/env node
/**
 * Loading port records into DuckDB (run after `npx tsc -p .`): N port records (default 1M)
 * through the store stage (stages/store: DuckDB appenders, checkpoint commits every second)
 * versus DuckDB's own bulk path, `COPY ports FROM 'x.csv'`, of the same rows into the same
 * schema, in the same run. Prints rows/s of each and the ratio store / COPY.
 *
 *   node bench/duckdb-load.mjs               1,000,000 rows
 *   node bench/duckdb-load.mjs --rows 200000
 *   node bench/duckdb-load.mjs --json        figures as JSON
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const { storeRecords, SCHEMA_SQL } = await import(path.join(root, 'dist/stages/store/index.js'));
const { newHeader, newTrailer } = await import(path.join(root, 'dist/stages/records/index.js'));

const arg = (flag) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const ROWS = Number(arg('--rows') ?? 1_000_000);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-bench-duckdb-'));
const STATES = ['closed', 'closed', 'closed', 'open', 'filtered'];
const REASON = { closed: 'reset', open: 'syn-ack', filtered: 'no-response' };
const T0 = 1_790_000_000_000;

/** Row i, the same for both paths: 1000 ports on each of ROWS/1000 hosts. */
function row(i) {
  const host = Math.floor(i / 1000);
  const state = STATES[i % 5];
  return {
    type: 'port', ip: `198.${18 + ((host >> 16) & 1)}.${(host >> 8) & 255}.${host & 255}`, port: 1 + (i % 1000), proto: 'tcp',
    state, reason: REASON[state], ttl: state === 'filtered' ? null : 64, rtt: state === 'filtered' ? null : 0.25 + (i % 7) / 10, time: T0 + i,
  };
}

async function viaStore() {
  const file = path.join(tmp, 'store.duckdb');
  const header = newHeader(['bench']);
  async function* src() {
    yield header;
    for (let i = 0; i < ROWS; i++) yield row(i);
    yield newTrailer(false);
  }
  const t0 = process.hrtime.bigint();
  for await (const _ of storeRecords({ path: file })(src())) { /* drain */ }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const inst = await DuckDBInstance.create(file);
  const c = await inst.connect();
  const n = Number((await c.runAndReadAll('select count(*) from ports')).getRows()[0][0]);
  c.closeSync();
  inst.closeSync();
  return { seconds: s, rows: n, scanId: header.scanId };
}

/** The source alone (records made and pulled through an async generator, no store): the part of the store time that is not the store. */
async function sourceOnly() {
  async function* src() {
    for (let i = 0; i < ROWS; i++) yield row(i);
  }
  const t0 = process.hrtime.bigint();
  let n = 0;
  for await (const _ of src()) n++;
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, rows: n };
}

async function writeCsv(scanId) {
  const file = path.join(tmp, 'ports.csv');
  const out = fs.createWriteStream(file);
  const t0 = process.hrtime.bigint();
  let chunk = [];
  for (let i = 0; i < ROWS; i++) {
    const r = row(i);
    chunk.push(`${scanId},${r.ip},${r.port},${r.proto},${r.state},${r.reason},${r.ttl ?? ''},${r.rtt ?? ''},${new Date(r.time).toISOString()}`);
    if (chunk.length === 10_000) {
      if (!out.write(`${chunk.join('\n')}\n`)) await once(out, 'drain');
      chunk = [];
    }
  }
  if (chunk.length) out.write(`${chunk.join('\n')}\n`);
  out.end();
  await once(out, 'finish');
  return { file, seconds: Number(process.hrtime.bigint() - t0) / 1e9, bytes: fs.statSync(file).size };
}

async function viaCopy(csv) {
  const file = path.join(tmp, 'copy.duckdb');
  const inst = await DuckDBInstance.create(file);
  const c = await inst.connect();
  await c.run(SCHEMA_SQL);
  const t0 = process.hrtime.bigint();
  await c.run(`COPY ports FROM '${csv}' (FORMAT csv, HEADER false, NULLSTR '')`);
  await c.run('CHECKPOINT');
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const n = Number((await c.runAndReadAll('select count(*) from ports')).getRows()[0][0]);
  c.closeSync();
  inst.closeSync();
  return { seconds: s, rows: n };
}

try {
  const source = await sourceOnly();
  const store = await viaStore();
  const csv = await writeCsv(store.scanId);
  const copy = await viaCopy(csv.file);
  if (store.rows !== ROWS || copy.rows !== ROWS) throw new Error(`row counts differ: store ${store.rows}, copy ${copy.rows}, expected ${ROWS}`);
  const figures = {
    rows: ROWS,
    store: { seconds: +store.seconds.toFixed(3), rowsPerSecond: Math.round(ROWS / store.seconds) },
    copyCsv: { seconds: +copy.seconds.toFixed(3), rowsPerSecond: Math.round(ROWS / copy.seconds), csvBytes: csv.bytes, csvWriteSeconds: +csv.seconds.toFixed(3) },
    sourceOnlySeconds: +source.seconds.toFixed(3),
    ratioStoreToCopy: +(copy.seconds / store.seconds).toFixed(3),
  };
  if (process.argv.includes('--json')) console.log(JSON.stringify(figures));
  else {
    console.log(`rows: ${ROWS.toLocaleString('en')}`);
    console.log(`store stage (appenders):  ${figures.store.seconds} s  ${figures.store.rowsPerSecond.toLocaleString('en')} rows/s`);
    console.log(`DuckDB COPY FROM csv:     ${figures.copyCsv.seconds} s  ${figures.copyCsv.rowsPerSecond.toLocaleString('en')} rows/s  (csv ${(csv.bytes / 1e6).toFixed(1)} MB, written in ${figures.copyCsv.csvWriteSeconds} s, not counted)`);
    console.log(`store / COPY speed ratio: ${figures.ratioStoreToCopy}  (of the store's time, ${figures.sourceOnlySeconds} s is making and pulling the records)`);
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
