#!/usr/bin/env node
/**
 * Loading port records into DuckDB (run after `npm run build`): N port records (default 1M) through
 * the store stage as prtip runs it — records pulled from an async iterable, checkpoint commits
 * every second / 100k rows, the rows counted in the committed file afterwards — against DuckDB's own
 * bulk path, `COPY ports FROM 'x.csv'` of the same rows into the same schema, and the other ways of
 * loading that were measured for the store, in the same run (rounds interleaved; medians):
 *
 *   store          stages/store (port-chunk.ts: typed column buffers into data chunks; commits
 *                  overlap the next rows)
 *   store-1tx      the same with commits on the clock only (no 100k-row cap): bigger transactions
 *   values         node-api's value path: DuckDBValue columns, DuckDBDataChunk.setColumns (the
 *                  store before port-chunk.ts), each commit awaited
 *   row-appender   one appender call per value (appendVarchar, appendInteger, …, endRow)
 *   csv-spool      rows written as CSV to a spool file, `COPY ports FROM spool` per checkpoint
 *   arrow          not measurable: @duckdb/node-api 1.5 exposes no Arrow append (its bindings
 *                  leave duckdb_data_chunk_from_arrow out)
 *
 * The records are made before the clock starts (making them is the scanner's work, not the
 * store's; writing the CSV is likewise not counted for COPY). Every candidate's row count is checked.
 *
 *   node bench/duckdb-load.mjs                   1,000,000 rows, 3 rounds
 *   node bench/duckdb-load.mjs --rows 200000 --rounds 5 --only store,values
 *   node bench/duckdb-load.mjs --json
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import {
  BOOLEAN, DOUBLE, DuckDBDataChunk, DuckDBInstance, DuckDBTimestampMillisecondsValue, INTEGER, TIMESTAMP_MS, VARCHAR,
} from '@duckdb/node-api';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const { storeRecords, SCHEMA_SQL } = await import(path.join(root, 'dist/stages/store/index.js'));
const { newHeader, newTrailer } = await import(path.join(root, 'dist/stages/records/index.js'));

const arg = (flag) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const ROWS = Number(arg('--rows') ?? 1_000_000);
const ROUNDS = Number(arg('--rounds') ?? 3);
const ALL = ['store', 'store-1tx', 'values', 'row-appender', 'csv-spool'];
const ONLY = (arg('--only') ?? ALL.join(',')).split(',');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtip-bench-duckdb-'));
const STATES = ['closed', 'closed', 'closed', 'open', 'filtered'];
const REASON = { closed: 'reset', open: 'syn-ack', filtered: 'no-response' };
const T0 = 1_790_000_000_000;
const CHECKPOINT_ROWS = 100_000;
const CHECKPOINT_MS = 1000;

/** 1000 ports on each of ROWS/1000 hosts, as a SYN scan reports them (a fifth filtered: no ttl, rtt). */
const ips = Array.from({ length: Math.ceil(ROWS / 1000) }, (_, h) => `198.${18 + ((h >> 16) & 1)}.${(h >> 8) & 255}.${h & 255}`);
const records = Array.from({ length: ROWS }, (_, i) => {
  const state = STATES[i % 5];
  return {
    type: 'port', ip: ips[Math.floor(i / 1000)], port: 1 + (i % 1000), proto: 'tcp', state, reason: REASON[state],
    ttl: state === 'filtered' ? null : 64, rtt: state === 'filtered' ? null : 0.25 + (i % 7) / 10, time: T0 + i,
  };
});

let fileNo = 0;
const freshFile = () => path.join(tmp, `db-${fileNo++}.duckdb`);

async function countRows(file) {
  const inst = await DuckDBInstance.create(file);
  const c = await inst.connect();
  const n = Number((await c.runAndReadAll('select count(*) from ports')).getRows()[0][0]);
  c.closeSync();
  inst.closeSync();
  return n;
}

function clock() {
  const t0 = process.hrtime.bigint();
  return () => Number(process.hrtime.bigint() - t0) / 1e9;
}

/** prtip's store stage: records in through an async iterable, rows committed. */
async function viaStore(checkpointRows) {
  const file = freshFile();
  const header = newHeader(['bench']);
  async function* src() {
    yield header;
    yield* records;
    yield newTrailer(false);
  }
  const done = clock();
  for await (const _ of storeRecords({ path: file, checkpointRows })(src())) { /* drain */ }
  return { seconds: done(), file };
}

/**
 * A writer-level loop for the other candidates: records pulled as the store pulls them, `add` per
 * record, `commit` (awaited) every CHECKPOINT_ROWS rows or CHECKPOINT_MS, as the store did before.
 */
async function viaLoop(name, setup) {
  const file = freshFile();
  const inst = await DuckDBInstance.create(file);
  const conn = await inst.connect();
  await conn.run(SCHEMA_SQL);
  const w = await setup(conn);
  async function* src() { yield* records; }
  const done = clock();
  await conn.run('BEGIN TRANSACTION');
  let rows = 0;
  let last = Date.now();
  for await (const r of src()) {
    w.add(r);
    if (++rows % CHECKPOINT_ROWS === 0 || Date.now() - last >= CHECKPOINT_MS) {
      await w.flush();
      await conn.run('COMMIT');
      await conn.run('BEGIN TRANSACTION');
      last = Date.now();
    }
  }
  await w.flush();
  await conn.run('COMMIT');
  await w.close?.();
  await conn.run('CHECKPOINT');
  const seconds = done();
  conn.closeSync();
  inst.closeSync();
  return { seconds, file, name };
}

const PORT_TYPES = [VARCHAR, VARCHAR, INTEGER, VARCHAR, VARCHAR, VARCHAR, INTEGER, DOUBLE, TIMESTAMP_MS, INTEGER, BOOLEAN, VARCHAR];
const SCAN = newHeader(['bench']).scanId; // a real scan id's length

/** node-api's value path: DuckDBValue column arrays, setColumns, appendDataChunk per 2048 rows. */
async function valuesWriter(conn) {
  const a = await conn.createAppender('ports');
  let cols = PORT_TYPES.map(() => []);
  const chunk = () => {
    const n = cols[0].length;
    if (n === 0) return;
    const c = DuckDBDataChunk.create(PORT_TYPES, n);
    c.setColumns(cols);
    a.appendDataChunk(c);
    cols = PORT_TYPES.map(() => []);
  };
  return {
    add(r) {
      cols[0].push(SCAN); cols[1].push(r.ip); cols[2].push(r.port); cols[3].push(r.proto); cols[4].push(r.state); cols[5].push(r.reason);
      cols[6].push(r.ttl); cols[7].push(r.rtt); cols[8].push(new DuckDBTimestampMillisecondsValue(BigInt(r.time)));
      cols[9].push(null); cols[10].push(null); cols[11].push(null);
      if (cols[0].length === 2048) chunk();
    },
    async flush() { chunk(); a.flushSync(); },
    close() { a.closeSync(); },
  };
}

/** One appender call per value. */
async function rowAppenderWriter(conn) {
  const a = await conn.createAppender('ports');
  return {
    add(r) {
      a.appendVarchar(SCAN); a.appendVarchar(r.ip); a.appendInteger(r.port); a.appendVarchar(r.proto); a.appendVarchar(r.state); a.appendVarchar(r.reason);
      if (r.ttl === null) a.appendNull(); else a.appendInteger(r.ttl);
      if (r.rtt === null) a.appendNull(); else a.appendDouble(r.rtt);
      a.appendTimestampMilliseconds(new DuckDBTimestampMillisecondsValue(BigInt(r.time)));
      a.appendNull(); a.appendNull(); a.appendNull();
      a.endRow();
    },
    async flush() { a.flushSync(); },
    close() { a.closeSync(); },
  };
}

/** CSV lines to a spool file; each checkpoint COPYs the spool in and starts it again. */
async function csvSpoolWriter(conn) {
  const spool = path.join(tmp, `spool-${fileNo}.csv`);
  let lines = [];
  let out = fs.openSync(spool, 'w');
  let any = false;
  const drain = () => {
    if (lines.length) fs.writeSync(out, `${lines.join('\n')}\n`);
    any ||= lines.length > 0;
    lines = [];
  };
  return {
    add(r) {
      lines.push(`${SCAN},${r.ip},${r.port},${r.proto},${r.state},${r.reason},${r.ttl ?? ''},${r.rtt ?? ''},${new Date(r.time).toISOString()},,,`);
      if (lines.length === 10_000) drain();
    },
    async flush() {
      drain();
      fs.closeSync(out);
      if (any) await conn.run(`COPY ports FROM '${spool}' (FORMAT csv, HEADER false, NULLSTR '')`);
      out = fs.openSync(spool, 'w');
      any = false;
    },
    close() { fs.closeSync(out); },
  };
}

async function writeCsv() {
  const file = path.join(tmp, 'ports.csv');
  const out = fs.createWriteStream(file);
  let chunk = [];
  for (const r of records) {
    chunk.push(`${SCAN},${r.ip},${r.port},${r.proto},${r.state},${r.reason},${r.ttl ?? ''},${r.rtt ?? ''},${new Date(r.time).toISOString()},,,`);
    if (chunk.length === 10_000) {
      if (!out.write(`${chunk.join('\n')}\n`)) await once(out, 'drain');
      chunk = [];
    }
  }
  if (chunk.length) out.write(`${chunk.join('\n')}\n`);
  out.end();
  await once(out, 'finish');
  return file;
}

/** DuckDB's own bulk load of the same rows (the CSV is written beforehand, not counted). */
async function viaCopy(csv) {
  const file = freshFile();
  const inst = await DuckDBInstance.create(file);
  const c = await inst.connect();
  await c.run(SCHEMA_SQL);
  const done = clock();
  await c.run(`COPY ports FROM '${csv}' (FORMAT csv, HEADER false, NULLSTR '')`);
  await c.run('CHECKPOINT');
  const seconds = done();
  c.closeSync();
  inst.closeSync();
  return { seconds, file };
}

/** Pulling the records through an async iterable alone: the part of every candidate that is the stream. */
async function pullOnly() {
  async function* src() { yield* records; }
  const done = clock();
  let n = 0;
  for await (const _ of src()) n++;
  return done();
}

const RUN = {
  store: () => viaStore(undefined),
  'store-1tx': () => viaStore(Number.MAX_SAFE_INTEGER),
  values: () => viaLoop('values', valuesWriter),
  'row-appender': () => viaLoop('row-appender', rowAppenderWriter),
  'csv-spool': () => viaLoop('csv-spool', csvSpoolWriter),
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const csv = await writeCsv();
  const times = { copy: [], pull: [] };
  for (const name of ONLY) times[name] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const copy = await viaCopy(csv);
    times.copy.push(copy.seconds);
    const n = await countRows(copy.file);
    if (n !== ROWS) throw new Error(`COPY stored ${n} rows, expected ${ROWS}`);
    times.pull.push(await pullOnly());
    for (const name of ONLY) {
      const r = await RUN[name]();
      const got = await countRows(r.file);
      if (got !== ROWS) throw new Error(`${name} stored ${got} rows, expected ${ROWS}`);
      times[name].push(r.seconds);
      fs.rmSync(r.file, { force: true });
    }
    fs.rmSync(copy.file, { force: true });
  }
  const copyS = median(times.copy);
  const figures = {
    rows: ROWS, rounds: ROUNDS,
    copy: { seconds: +copyS.toFixed(3), rowsPerSecond: Math.round(ROWS / copyS) },
    pullOnlySeconds: +median(times.pull).toFixed(3),
    candidates: Object.fromEntries(ONLY.map((name) => {
      const s = median(times[name]);
      // Per round, against that round's COPY: the ratio is robust to the machine's load drifting.
      const ratios = times[name].map((x, i) => times.copy[i] / x);
      return [name, { seconds: +s.toFixed(3), rowsPerSecond: Math.round(ROWS / s), ratioToCopy: +median(ratios).toFixed(3), ratios: ratios.map((x) => +x.toFixed(3)) }];
    })),
    arrow: 'not in the installed @duckdb/node-api (no Arrow append in its bindings)',
  };
  if (process.argv.includes('--json')) console.log(JSON.stringify(figures));
  else {
    console.log(`rows: ${ROWS.toLocaleString('en')}, ${ROUNDS} rounds interleaved, medians; ratio = COPY time / candidate time, per round`);
    console.log(`  DuckDB COPY FROM csv  ${figures.copy.seconds.toFixed(3)} s  ${figures.copy.rowsPerSecond.toLocaleString('en')} rows/s`);
    for (const [name, c] of Object.entries(figures.candidates)) {
      console.log(`  ${name.padEnd(20)}  ${c.seconds.toFixed(3)} s  ${c.rowsPerSecond.toLocaleString('en').padStart(9)} rows/s  ${c.ratioToCopy.toFixed(2)}× COPY  (rounds ${c.ratios.join(', ')})`);
    }
    console.log(`  arrow                 n/a: ${figures.arrow}`);
    console.log(`  (pulling the records through an async iterable alone: ${figures.pullOnlySeconds} s, inside every candidate's time)`);
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
