/**
 * `prtip serve`: REST + Server-Sent Events + the web dashboard, on fastify. Every route needs the
 * token (Authorization: Bearer, or ?token= for the page and EventSource); the OpenAPI document
 * is generated from the route schemas.
 */
import { timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { fastifySwagger as swagger } from '@fastify/swagger';
import { fastifySSE as sse } from '@fastify/sse';
import type { DuckDBInstance } from '@duckdb/node-api';
import { UserInputError } from '../../../../stages/records/index.js';
import { query } from '../../../../stages/store/index.js';
import { ScanManager, type ApiScan, type ScanEvent } from './scans.js';
import { readOnlyQuery } from './sql.js';
import { REPORT_FORMATS, scanReport } from './report.js';

export interface ServerOptions {
  token: string;
  instance: DuckDBInstance;
  manager: ScanManager;
  /** SQL bounds. */
  maxRows?: number;
  sqlTimeoutMs?: number;
}

const WEB_DIR = new URL('../../../../../packages/oclif-cli/web/', import.meta.url);
const require = createRequire(import.meta.url);
/** preact + hooks + htm in one ES module, straight from node_modules (no bundler, no CDN). */
const preactHtm = () => path.join(path.dirname(require.resolve('htm')), '..', 'preact', 'standalone.module.js');

const errorSchema = { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] } as const;
const idParams = { type: 'object', properties: { id: { type: 'string', maxLength: 64 } }, required: ['id'] } as const;
const pageQuery = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    offset: { type: 'integer', minimum: 0, default: 0 },
    token: { type: 'string' },
  },
  additionalProperties: false,
} as const;
const tokenQuery = { type: 'object', properties: { token: { type: 'string' } } } as const;
const scanSummary = {
  type: 'object',
  additionalProperties: true,
  properties: {
    id: { type: 'string' }, state: { type: 'string', enum: ['running', 'complete', 'interrupted', 'failed'] },
    args: { type: 'array', items: { type: 'string' } },
  },
} as const;
const security: Array<Record<string, string[]>> = [{ bearer: [] }, { token: [] }];

function tokenOf(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7).trim();
  const q = (req.query as { token?: unknown } | undefined)?.token;
  return typeof q === 'string' ? q : undefined;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const fail = (reply: FastifyReply, code: number, error: string) => reply.code(code).send({ error });

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const { manager, instance } = opts;
  const app = Fastify({
    bodyLimit: 64 * 1024, logger: false, return503OnClosing: true,
    // Unknown fields are refused (400), not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'prtip serve', version: '1', description: 'Start scans, follow them live, read results from the DuckDB database.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          token: { type: 'apiKey', in: 'query', name: 'token' },
        },
      },
      security,
    },
  });
  await app.register(sse, { heartbeatInterval: 15_000 });

  app.addHook('onRequest', async (req, reply) => {
    const given = tokenOf(req);
    if (given === undefined) return fail(reply, 401, 'a token is required: send Authorization: Bearer TOKEN (or ?token=TOKEN)');
    if (!sameToken(given, opts.token)) return fail(reply, 401, 'wrong token');
  });

  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, _req, reply) => {
    if (err instanceof UserInputError) return fail(reply, 400, err.message);
    if (err.validation) return fail(reply, 400, `bad request: ${err.message}`);
    if (err.statusCode && err.statusCode < 500) return fail(reply, err.statusCode, err.message);
    return fail(reply, 500, `internal error: ${err.message.split('\n')[0]}`);
  });
  app.setNotFoundHandler((req, reply) => fail(reply, 404, `no route ${req.method} ${req.url.split('?')[0]}`));

  const knownScan = async (id: string): Promise<boolean> => {
    if (manager.scans.has(id)) return true;
    const r = await withConn((c) => query(c, 'SELECT 1 FROM scans WHERE scan_id = $1', [id]));
    return r.rows.length > 0;
  };
  const withConn = async <T>(fn: (c: Awaited<ReturnType<DuckDBInstance['connect']>>) => Promise<T>): Promise<T> => {
    const c = await instance.connect();
    try {
      return await fn(c);
    } finally {
      c.closeSync();
    }
  };

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.post('/api/scans', {
    schema: {
      summary: 'Start a scan: args are the words after `prtip scan`',
      body: {
        type: 'object',
        required: ['args'],
        additionalProperties: false,
        properties: { args: { type: 'array', minItems: 1, maxItems: 256, items: { type: 'string', maxLength: 1024 } } },
      },
      response: { 201: { type: 'object', properties: { id: { type: 'string' }, warnings: { type: 'array', items: { type: 'string' } } } }, 400: errorSchema },
    },
  }, async (req, reply) => {
    const scan = await manager.start((req.body as { args: string[] }).args);
    return reply.code(201).send({ id: scan.id, warnings: scan.warnings });
  });

  app.get('/api/scans', {
    schema: { summary: 'Scans in the database, newest first (running ones with their live state)', querystring: pageQuery, response: { 200: { type: 'object', additionalProperties: true } } },
  }, async (req) => {
    const { limit, offset } = req.query as { limit: number; offset: number };
    const r = await withConn((c) => query(c,
      `SELECT scan_id, source, args, epoch_ms(start_time)::DOUBLE, epoch_ms(end_time)::DOUBLE, status, planned_probes::DOUBLE FROM scans ORDER BY start_time DESC NULLS LAST LIMIT ${limit} OFFSET ${offset}`));
    const total = await withConn((c) => query(c, 'SELECT count(*)::DOUBLE FROM scans'));
    const items = r.rows.map(([id, source, args, start, end, status, probes]) => {
      const live = manager.scans.get(id as string);
      return { id, source, args, startTime: start, endTime: end, state: live?.state ?? status, plannedProbes: probes, openPorts: live?.openPorts };
    });
    return { total: Number(total.rows[0]![0]), limit, offset, items };
  });

  app.get('/api/scans/:id', {
    schema: { summary: 'One scan: header, counters, state, live progress', params: idParams, querystring: tokenQuery, response: { 200: scanSummary, 404: errorSchema } },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const live = manager.scans.get(id);
    if (live) return live.summary();
    const r = await withConn((c) => query(c,
      'SELECT scan_id, source, args, argv, epoch_ms(start_time)::DOUBLE, epoch_ms(end_time)::DOUBLE, status, planned_hosts::DOUBLE, planned_probes::DOUBLE, counters FROM scans WHERE scan_id = $1', [id]));
    const row = r.rows[0];
    if (!row) return fail(reply, 404, `no scan ${id}`);
    const [, source, args, argv, start, end, status, hosts, probes, counters] = row;
    return {
      id, source, state: status, args: argv ? JSON.parse(argv as string) : [args], commandLine: args, startTime: start, endTime: end,
      plan: { hosts, probes }, counters: counters ? JSON.parse(counters as string) : {},
    };
  });

  for (const [name, sql, order] of [
    ['ports', 'SELECT ip, port, proto, state, reason, ttl, rtt_ms, epoch_ms(time)::DOUBLE AS time FROM ports', 'ORDER BY ip, port, proto'],
    ['services', 'SELECT ip, port, proto, name, product, version, extrainfo, cpe, method, conf FROM services', 'ORDER BY ip, port, proto'],
  ] as const) {
    const querystring = name === 'ports'
      ? { ...pageQuery, properties: { ...pageQuery.properties, state: { type: 'string', enum: ['open', 'closed', 'filtered', 'unfiltered', 'open|filtered', 'closed|filtered'] } } }
      : pageQuery;
    app.get(`/api/scans/:id/${name}`, {
      schema: { summary: `The scan's ${name} (paged${name === 'ports' ? '; ?state= filters' : ''}; rows appear as the scan commits, every second)`, params: idParams, querystring, response: { 404: errorSchema } },
    }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const { limit, offset, state } = req.query as { limit: number; offset: number; state?: string };
      if (!(await knownScan(id))) return fail(reply, 404, `no scan ${id}`);
      const where = `WHERE scan_id = $1${state ? ' AND state = $2' : ''}`;
      const params = state ? [id, state] : [id];
      const r = await withConn((c) => query(c, `${sql} ${where} ${order} LIMIT ${limit} OFFSET ${offset}`, params));
      const total = await withConn((c) => query(c, `SELECT count(*)::DOUBLE FROM ${name} ${where}`, params));
      return { total: Number(total.rows[0]![0]), limit, offset, items: r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]]))) };
    });
  }

  app.get('/api/scans/:id/hosts/:ip', {
    schema: {
      summary: "One host of a scan, as nmap's report gives it: state, ports that are not closed with their services and scripts, host scripts, OS matches, traceroute hops",
      params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 }, ip: { type: 'string', maxLength: 64 } }, required: ['id', 'ip'] },
      querystring: tokenQuery,
      response: { 200: { type: 'object', additionalProperties: true }, 404: errorSchema },
    },
  }, async (req, reply) => {
    const { id, ip } = req.params as { id: string; ip: string };
    if (!(await knownScan(id))) return fail(reply, 404, `no scan ${id}`);
    const rows = (r: { columns: string[]; rows: unknown[][] }) => r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]])));
    return withConn(async (c) => {
      const params = [id, ip];
      // The last host record is authoritative (a --host-timeout after discovery supersedes the first).
      const host = rows(await query(c, 'SELECT state, reason, hostname FROM hosts WHERE scan_id = $1 AND ip = $2 ORDER BY rowid DESC LIMIT 1', params))[0];
      const ports = rows(await query(c,
        `SELECT p.port, p.proto, p.state, p.reason, p.ttl, p.proxied, s.name AS service, s.product, s.version, s.extrainfo, s.tunnel, s.cpe
         FROM ports p LEFT JOIN services s ON s.scan_id = p.scan_id AND s.ip = p.ip AND s.port = p.port AND s.proto = p.proto
         WHERE p.scan_id = $1 AND p.ip = $2 AND p.state <> 'closed' ORDER BY p.port, p.proto LIMIT 1000`, params));
      const closed = Number((await query(c, "SELECT count(*)::DOUBLE FROM ports WHERE scan_id = $1 AND ip = $2 AND state = 'closed'", params)).rows[0]![0]);
      const scripts = rows(await query(c,
        'SELECT port, proto, script_id AS id, output, elements FROM scripts WHERE scan_id = $1 AND ip = $2 ORDER BY port NULLS LAST, proto, script_id', params));
      const os = rows(await query(c,
        'SELECT rank, name, accuracy, vendor, osfamily, osgen, devicetype, cpe FROM os_matches WHERE scan_id = $1 AND ip = $2 ORDER BY rank', params));
      const hops = rows(await query(c, 'SELECT ttl, hop_ip AS ip, rtt_ms, host FROM hops WHERE scan_id = $1 AND ip = $2 ORDER BY ttl', params));
      if (!host && ports.length === 0 && closed === 0 && os.length === 0 && scripts.length === 0) return fail(reply, 404, `no host ${ip} in scan ${id}`);
      return { ip, host: host ?? null, ports, closed, scripts, os, hops };
    });
  });

  app.get('/api/scans/:id/events', {
    sse: { kind: 'only', heartbeat: false },
    schema: { summary: 'Server-Sent Events: status, port (open), host (up), service, os, warning, end; Last-Event-ID replays', params: idParams, querystring: tokenQuery },
  } as never, async (req: FastifyRequest, reply: FastifyReply & { sse: { send(src: unknown): Promise<void>; lastEventId: string | null; onClose(cb: () => void): void } }) => {
    const { id } = req.params as { id: string };
    const scan = manager.scans.get(id);
    if (!scan) {
      return fail(reply, 404, (await knownScan(id)) ? `scan ${id} ran before this server started: no live events; see /api/scans/${id}` : `no scan ${id}`);
    }
    const after = Number(reply.sse.lastEventId ?? 0) || 0;
    let closed = false;
    reply.sse.onClose(() => { closed = true; });
    await reply.sse.send(eventStream(scan, after, () => closed));
  });

  app.get('/api/scans/:id/report', {
    schema: {
      summary: 'A finished scan as the CLI would write it: normal (-oN), xml (-oX), json (-oJ), jsonl (-oD), csv (-oC); a download',
      params: idParams,
      querystring: { type: 'object', required: ['format'], properties: { format: { type: 'string', enum: Object.keys(REPORT_FORMATS) }, token: { type: 'string' } } },
      response: { 400: errorSchema, 404: errorSchema },
    },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { format } = req.query as { format: string };
    const live = manager.scans.get(id);
    if (live?.state === 'running') return fail(reply, 409, `scan ${id} is still running: its report is ready when it ends`);
    const text = await scanReport(instance, id, format);
    if (text === undefined) return fail(reply, 404, `no scan ${id}`);
    const spec = REPORT_FORMATS[format]!;
    return reply.type(spec.type).header('content-disposition', `attachment; filename="prtip-${id}.${spec.ext}"`).send(text);
  });

  app.delete('/api/scans/:id', {
    schema: { summary: 'Stop a running scan cleanly (its trailer is written); answers when it has stopped', params: idParams, querystring: tokenQuery, response: { 200: scanSummary, 404: errorSchema, 409: errorSchema } },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const scan = manager.scans.get(id);
    if (!scan) return fail(reply, 404, (await knownScan(id)) ? `scan ${id} is not running` : `no scan ${id}`);
    if (scan.state !== 'running') return fail(reply, 409, `scan ${id} is not running (${scan.state})`);
    scan.abort.abort();
    await scan.done;
    return scan.summary();
  });

  app.post('/api/sql', {
    schema: {
      summary: 'One read-only SELECT on the database (rows and time bounded)',
      body: { type: 'object', required: ['sql'], additionalProperties: false, properties: { sql: { type: 'string', minLength: 1, maxLength: 16_384 } } },
      response: { 400: errorSchema },
    },
  }, async (req) => readOnlyQuery(instance, (req.body as { sql: string }).sql, { maxRows: opts.maxRows ?? 10_000, timeoutMs: opts.sqlTimeoutMs ?? 5000 }));

  // The dashboard: one page, its script, and preact+htm from node_modules.
  const page = fs.readFileSync(new URL('index.html', WEB_DIR), 'utf8');
  const sendFile = (reply: FastifyReply, type: string, body: string | Buffer) => reply.type(type).header('cache-control', 'no-store').send(body);
  app.get('/', { schema: { hide: true } }, async (req, reply) => {
    const t = encodeURIComponent(tokenOf(req)!);
    return sendFile(reply, 'text/html; charset=utf-8', page.replaceAll('__TOKEN__', t));
  });
  app.get('/assets/app.js', { schema: { hide: true } }, async (_req, reply) => sendFile(reply, 'text/javascript', fs.readFileSync(new URL('app.js', WEB_DIR))));
  app.get('/assets/preact-htm.js', { schema: { hide: true } }, async (_req, reply) => sendFile(reply, 'text/javascript', fs.readFileSync(preactHtm())));

  return app;
}

/** A scan's events from after `afterId`, then live ones, until its end event. */
async function* eventStream(scan: ApiScan, afterId: number, closed: () => boolean): AsyncGenerator<{ id: string; event: string; data: unknown }> {
  let next = scan.events.findIndex((e) => e.id > afterId);
  let wake: (() => void) | undefined;
  const unsubscribe = scan.subscribe(() => wake?.());
  try {
    for (;;) {
      if (next < 0) next = scan.events.findIndex((e) => e.id > afterId);
      while (next >= 0 && next < scan.events.length) {
        const e: ScanEvent = scan.events[next++]!;
        afterId = e.id;
        yield { id: String(e.id), event: e.event, data: e.data };
        if (e.event === 'end') return;
      }
      if (closed()) return;
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 5000).unref();
      });
      wake = undefined;
      // Events may have been dropped from the front (overflow): find our place again by id.
      next = scan.events.findIndex((e) => e.id > afterId);
    }
  } finally {
    unsubscribe();
  }
}
