/**
 * The probe engine: identifies the service on one port, with nmap's semantics.
 *
 * TCP: the NULL probe first (connect, send nothing, read a greeting); then the probes whose
 * `ports` list the port (or `sslports` inside TLS), in file order, regardless of rarity; then
 * every other probe with rarity ≤ intensity, in file order. Each probe uses its own connection.
 * A response is tested against the probe's own matches, then its fallbacks, then (TCP) the NULL
 * probe's. The first hard match ends the search; a softmatch narrows it: from then on only probes
 * that can hard-match that service are sent, and only that service's matches count. A connection
 * closed before any data, within tcpwrappedms, is `tcpwrapped`. A match naming `ssl` restarts the
 * whole search inside TLS (nginx on 443 → ssl/http), and the certificate is kept.
 * UDP: no NULL probe; the same ordering and matching; an ICMP port-unreachable ends the search.
 *
 * One departure from nmap, for speed: nmap waits the NULL probe's whole totalwaitms (6 s) for a
 * greeting before sending anything. Here the next probes start on their own connections once the
 * NULL connection has been silent for `nullOverlapMs`; a greeting that still arrives and hard-
 * matches wins over any later probe (it is first in nmap's order), unless a later probe already
 * settled the port. Likewise a probe that got data but no match stops after `idleMs` of silence
 * instead of waiting out its totalwaitms.
 *
 * Bounds: every connection has a connect timeout and a total wait; at most `maxResponseBytes`
 * are kept per response (then the socket is closed); every port has a deadline; the caller adds
 * per-host deadlines and concurrency limits. A silent, endless or slow service costs at most a
 * port deadline and maxResponseBytes of memory.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { UserInputError, type CertSummary } from '../records/index.js';
import { sharedMatcher } from './bounded-match.js';
import { fallbackProbe, regexOf, type ServiceMatch, type ServiceProbe, type ServiceProbeFile } from './service-probes.js';
import type { ProbeResponse } from './service-fp.js';
import { peerCert } from './tls-cert.js';
import { versionFields, type VersionFields } from './version-info.js';

export interface EngineOptions {
  probes: ServiceProbeFile;
  /** 0–9: probes with rarity above it are skipped unless they list the port. */
  intensity: number;
  /** Upper bound on any one probe's wait (ms); the probe file's totalwaitms applies below it. */
  probeTimeoutMs?: number;
  connectTimeoutMs: number;
  /** Silence on the NULL connection before the other probes start (see above). */
  nullOverlapMs: number;
  /** Silence after data without a match before a probe gives up. */
  idleMs: number;
  /** Most bytes kept of one response. */
  maxResponseBytes: number;
  /** Restart probing inside TLS when a service turns out to be ssl. */
  tls: boolean;
}

export const DEFAULT_PROBE_WAIT_MS = 5000;
export const DEFAULT_TCPWRAPPED_MS = 3000;

export interface MatchOutcome {
  soft: boolean;
  service: string;
  fields: VersionFields;
  probe: string;
}

export interface PortOutcome {
  /** 'match' (hard), 'soft', 'tcpwrapped', 'unmatched' (connected, nothing matched), 'unreachable' (never connected / port closed). */
  kind: 'match' | 'soft' | 'tcpwrapped' | 'unmatched' | 'unreachable';
  match?: MatchOutcome;
  tunnel?: 'ssl';
  cert?: CertSummary;
  /** Every non-empty response of the search that decided the outcome, in nmap's probe order (for the service fingerprint). */
  responses?: ProbeResponse[];
  /** When the first of them ended (Unix ms). */
  firstResponseAt?: number;
  /** Bytes read from the service over all probes (bounded by maxResponseBytes per probe). */
  bytesRead: number;
  probesSent: number;
}

interface ProbeRun {
  data: string;
  /** How the exchange ended. */
  end: 'matched' | 'eof' | 'reset' | 'timeout' | 'idle' | 'cap' | 'refused' | 'connect-timeout' | 'error' | 'aborted' | 'tls-failed';
  connected: boolean;
  /** ms from connect to the end. */
  elapsed: number;
  cert?: CertSummary;
}

type Tester = (data: string) => boolean;

/** Responses up to this size are re-tested on every chunk. */
const ALWAYS_TEST_BYTES = 4096;

/**
 * Thousands of patterns per test make re-testing a growing response on every small chunk
 * quadratic (a service trickling bytes up to the cap). Beyond ALWAYS_TEST_BYTES a response is
 * re-tested only when it has doubled since the last test, and once more when the exchange ends,
 * so the number of tests grows with log(size).
 */
function throttled(test: Tester): { onData: Tester; atEnd: (data: string) => void } {
  let tested = 0;
  return {
    onData: (data) => {
      if (data.length > ALWAYS_TEST_BYTES && data.length < 2 * tested) return false;
      tested = data.length;
      return test(data);
    },
    atEnd: (data) => {
      if (data.length !== tested) {
        tested = data.length;
        test(data);
      }
    },
  };
}

/** Runs one TCP (optionally TLS) exchange: connect, send payload, read until a match or a bound. */
function tcpExchange(
  ip: string,
  port: number,
  payload: Buffer,
  useTls: boolean,
  waitMs: number,
  o: EngineOptions,
  test: Tester,
  signal: AbortSignal,
): Promise<ProbeRun> {
  const t = throttled(test);
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ data: '', end: 'aborted', connected: false, elapsed: 0 });
      return;
    }
    let data = '';
    let connected = false;
    let connectedAt = 0;
    let settled = false;
    let cert: CertSummary | undefined;
    let waitTimer: NodeJS.Timeout | undefined;
    let idleTimer: NodeJS.Timeout | undefined;
    const sock: net.Socket = useTls
      ? tls.connect({
          host: ip,
          port,
          rejectUnauthorized: false,
          // Old services too: nmap identifies them, so must we.
          minVersion: 'TLSv1',
          ciphers: 'DEFAULT:@SECLEVEL=0',
          ...(net.isIP(ip) ? {} : { servername: ip }),
        })
      : net.connect({ host: ip, port });
    const finish = (end: ProbeRun['end']) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(waitTimer);
      clearTimeout(idleTimer);
      signal.removeEventListener('abort', onAbort);
      sock.removeAllListeners('data');
      sock.on('error', () => {});
      sock.destroy();
      if (end !== 'matched' && end !== 'aborted') t.atEnd(data);
      resolve({ data, end, connected, elapsed: connected ? Date.now() - connectedAt : 0, cert });
    };
    const onAbort = () => finish('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    const connectTimer = setTimeout(() => finish('connect-timeout'), o.connectTimeoutMs);
    sock.once(useTls ? 'secureConnect' : 'connect', () => {
      connected = true;
      connectedAt = Date.now();
      clearTimeout(connectTimer);
      if (useTls) {
        try {
          cert = peerCert(sock as tls.TLSSocket);
        } catch {
          /* a certificate Node cannot parse: no summary */
        }
      }
      if (payload.length > 0) sock.write(payload);
      waitTimer = setTimeout(() => finish('timeout'), waitMs);
    });
    sock.on('data', (chunk: Buffer) => {
      const room = o.maxResponseBytes - data.length;
      data += chunk.subarray(0, Math.max(0, room)).toString('latin1');
      if (t.onData(data)) return finish('matched');
      if (chunk.length >= room) return finish('cap');
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => finish('idle'), o.idleMs);
    });
    sock.once('end', () => finish('eof'));
    sock.once('close', () => finish(connected ? 'eof' : 'error'));
    sock.once('error', (e: NodeJS.ErrnoException) => {
      if (!connected && useTls && e.code !== 'ECONNREFUSED' && e.code !== 'ECONNRESET' && e.code !== 'ETIMEDOUT') {
        return finish('tls-failed');
      }
      finish(e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'ECONNRESET' || e.code === 'EPIPE' ? 'reset' : 'error');
    });
  });
}

/** One UDP exchange on a connected socket (so ICMP port-unreachable surfaces as ECONNREFUSED). */
function udpExchange(ip: string, port: number, payload: Buffer, waitMs: number, o: EngineOptions, test: Tester, signal: AbortSignal): Promise<ProbeRun> {
  const t = throttled(test);
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ data: '', end: 'aborted', connected: false, elapsed: 0 });
      return;
    }
    const sock = dgram.createSocket(net.isIPv6(ip) ? 'udp6' : 'udp4');
    const started = Date.now();
    let data = '';
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let idleTimer: NodeJS.Timeout | undefined;
    const finish = (end: ProbeRun['end']) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(idleTimer);
      signal.removeEventListener('abort', onAbort);
      sock.removeAllListeners('message');
      sock.on('error', () => {});
      try {
        sock.close();
      } catch {
        /* already closed */
      }
      if (end !== 'matched' && end !== 'aborted') t.atEnd(data);
      resolve({ data, end, connected: true, elapsed: Date.now() - started });
    };
    const onAbort = () => finish('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'ECONNREFUSED' ? 'refused' : 'error'));
    sock.on('message', (msg: Buffer) => {
      const room = o.maxResponseBytes - data.length;
      data += msg.subarray(0, Math.max(0, room)).toString('latin1');
      if (t.onData(data)) return finish('matched');
      if (msg.length >= room) return finish('cap');
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => finish('idle'), o.idleMs);
    });
    sock.connect(port, ip, () => {
      sock.send(payload, (err) => {
        if (err) finish('error');
      });
      timer = setTimeout(() => finish('timeout'), waitMs);
    });
  });
}

/** A probe after NULL, and whether the port (or, inside TLS, the sslport) lists it. */
export interface ProbeStep {
  probe: ServiceProbe;
  listed: boolean;
}

/** Every probe after NULL in nmap's order: those listing the port first, then the rest, each in file order. */
export function probeSequence(file: ServiceProbeFile, proto: 'tcp' | 'udp', port: number, tunnel: boolean): ProbeStep[] {
  const list = file.probes.filter((p) => p.proto === proto && p.name !== 'NULL');
  const listed = list.filter((p) => (tunnel ? p.sslports : p.ports).has(port));
  return [...listed.map((probe) => ({ probe, listed: true })), ...list.filter((p) => !listed.includes(p)).map((probe) => ({ probe, listed: false }))];
}

/**
 * Whether nmap sends this probe now. Before any softmatch: a probe listing the port always, any
 * other one when its rarity is within the intensity. After a softmatch on service S: only probes
 * with a match line (hard or soft) for S, and then regardless of rarity; --version-all (9) keeps
 * every probe.
 */
export function probeWanted(step: ProbeStep, intensity: number, softService: string | undefined): boolean {
  if (softService === undefined) return step.listed || step.probe.rarity <= intensity;
  return intensity >= 9 || serviceIsPossible(step.probe, softService);
}

/** The probes to send after NULL when no softmatch narrows them, in nmap's order. */
export function probeOrder(file: ServiceProbeFile, proto: 'tcp' | 'udp', port: number, tunnel: boolean, intensity: number): ServiceProbe[] {
  return probeSequence(file, proto, port, tunnel).filter((s) => probeWanted(s, intensity, undefined)).map((s) => s.probe);
}

/** Matches a response is tested against: the probe's, its fallbacks', then (TCP) the NULL probe's. */
function matchLists(file: ServiceProbeFile, probe: ServiceProbe): ServiceProbe[] {
  const lists: ServiceProbe[] = [probe];
  for (const name of probe.fallback) {
    const fb = fallbackProbe(file, probe, name);
    if (fb && !lists.includes(fb)) lists.push(fb);
  }
  const nul = file.byName.get('tcp:NULL');
  if (probe.proto === 'tcp' && nul && !lists.includes(nul)) lists.push(nul);
  return lists;
}

/** nmap's serviceIsPossible: does one of the probe's own match lines (soft ones too) name `service`? */
export function serviceIsPossible(probe: ServiceProbe, service: string): boolean {
  return probe.matches.some((m) => m.service === service);
}

function tryMatch(m: ServiceMatch, data: string, probeName: string): MatchOutcome | undefined {
  const re = regexOf(m);
  if (!re) return undefined;
  const r = re.exec(data);
  if (!r) return undefined;
  return { soft: m.soft, service: m.service, fields: versionFields(m.templates, r, m.groupMap!), probe: probeName };
}

/**
 * The match for a response, as nmap finds it: the match lists in order (the probe's own, its
 * fallbacks', NULL's), and in the first list where any line matches, its first matching line —
 * hard or soft. A softmatch does not look further for a hard match in this response.
 */
export function testResponse(file: ServiceProbeFile, probe: ServiceProbe, data: string): MatchOutcome | undefined {
  for (const list of matchLists(file, probe)) {
    for (const m of list.matches) {
      const hit = tryMatch(m, data, probe.name);
      if (hit) return hit;
    }
  }
  return undefined;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * One port's search: a full match decides it; the first softmatch narrows the probes tried next.
 * Shared by the TCP and UDP searches.
 */
class MatchSearch {
  decided: MatchOutcome | undefined;
  soft: MatchOutcome | undefined;

  constructor(private readonly file: ServiceProbeFile) {}

  /** Tests responses to `probe`; true once the search is decided (the exchange may stop). */
  tester(probe: ServiceProbe): Tester {
    return (data) => {
      if (this.decided) return true;
      // Bounded in time: a reply built to make a pattern backtrack forever cannot freeze the scan.
      const hit = sharedMatcher().withinBudget(() => testResponse(this.file, probe, data));
      if (!hit) return false;
      if (!hit.soft) {
        this.decided = hit;
        return true;
      }
      // A second softmatch (even of another service) is ignored, as nmap does; a later hard
      // match of any service still decides.
      this.soft ??= hit;
      return false;
    };
  }
}

/**
 * A hard match on "ssl/NAME" (e.g. nginx's "plain HTTP request was sent to HTTPS port") names
 * the service behind TLS without a TLS connection: nmap reports name NAME with tunnel ssl.
 */
function sslNamed<T extends Omit<PortOutcome, 'bytesRead' | 'probesSent'>>(out: T): T {
  const m = out.match;
  if (out.kind !== 'match' || !m || !m.service.startsWith('ssl/') || m.service.length <= 4) return out;
  return { ...out, match: { ...m, service: m.service.slice(4) }, tunnel: 'ssl' };
}

/**
 * A probe file with lines that cannot be read is refused, as nmap refuses it (it stops at the
 * first parse error): probing with part of a corrupt file would report "unknown" everywhere and
 * exit 0. `prtip detect --check-db` lists every problem.
 */
export function refuseCorrupt(file: ServiceProbeFile): void {
  const first = file.problems[0];
  const matches = file.probes.reduce((n, p) => n + p.matches.length, 0);
  if (first) {
    const more = file.problems.length > 1 ? ` (and ${file.problems.length - 1} more problems)` : '';
    throw new UserInputError(
      `${file.source}:${first.line}: ${first.reason}${more}; fix the file or point --datadir elsewhere (prtip detect --check-db lists them)`,
    );
  }
  if (matches === 0) throw new UserInputError(`${file.source}: no match lines: not a usable nmap-service-probes file`);
}

export class ServiceEngine {
  constructor(private readonly o: EngineOptions) {
    refuseCorrupt(o.probes);
  }

  private waitOf(p: ServiceProbe | undefined): number {
    const w = p?.totalwaitms ?? DEFAULT_PROBE_WAIT_MS;
    return this.o.probeTimeoutMs !== undefined ? Math.min(w, this.o.probeTimeoutMs) : w;
  }

  /** Identifies the service on ip:port. Resolves (never rejects) when done or when `signal` aborts. */
  async detect(ip: string, port: number, proto: 'tcp' | 'udp', signal: AbortSignal): Promise<PortOutcome> {
    const stats = { bytesRead: 0, probesSent: 0 };
    if (proto === 'udp') return { ...(await this.udpSearch(ip, port, signal, stats)), ...stats };
    const plain = sslNamed(await this.tcpSearch(ip, port, false, signal, stats));
    if (plain.tunnel === 'ssl') return { ...plain, ...stats };
    if (this.o.tls && !signal.aborted && plain.match?.service === 'ssl') {
      const inner = await this.tcpSearch(ip, port, true, signal, stats);
      if (inner.kind === 'match' || inner.kind === 'soft') return { ...sslNamed(inner), tunnel: 'ssl', ...stats };
      // TLS came up but nothing inside it matched: nmap's "ssl/https?" (table name, in TLS).
      if (inner.cert) return { kind: 'unmatched', tunnel: 'ssl', cert: inner.cert, responses: inner.responses, firstResponseAt: inner.firstResponseAt, ...stats };
      // TLS did not come up: report what the plain search saw (the ssl match).
      return { ...plain, ...stats };
    }
    return { ...plain, ...stats };
  }

  private async tcpSearch(
    ip: string,
    port: number,
    tunnel: boolean,
    outer: AbortSignal,
    stats: { bytesRead: number; probesSent: number },
  ): Promise<Omit<PortOutcome, 'bytesRead' | 'probesSent'>> {
    const file = this.o.probes;
    const nullProbe = file.byName.get('tcp:NULL');
    const ac = new AbortController();
    const stop = () => ac.abort();
    outer.addEventListener('abort', stop, { once: true });
    const search = new MatchSearch(file);
    let cert: CertSummary | undefined;
    // nmap: once any probe got data, a later close is no longer taken for TCP wrappers.
    let anyData = false;
    let wrapped = false;
    // Responses in nmap's order: NULL's first (its connection may end last), then the others as sent.
    let nullResponse: ProbeResponse | undefined;
    const later: ProbeResponse[] = [];
    let firstResponseAt: number | undefined;
    const account = (r: ProbeRun, probe: string) => {
      stats.bytesRead += r.data.length;
      if (r.data.length > 0) {
        anyData = true;
        firstResponseAt ??= Date.now();
        if (probe === 'NULL') nullResponse = { probe, data: r.data };
        else later.push({ probe, data: r.data });
      }
      cert ??= r.cert;
    };
    const heard = () => {
      const responses = nullResponse ? [nullResponse, ...later] : later;
      return responses.length > 0 ? { responses, firstResponseAt } : {};
    };
    const wrappedMs = nullProbe?.tcpwrappedms ?? DEFAULT_TCPWRAPPED_MS;
    /** The NULL connection closed by the service, with nothing said, within tcpwrappedms. */
    const isWrapped = (r: ProbeRun) =>
      r.connected && r.data.length === 0 && (r.end === 'eof' || r.end === 'reset') && r.elapsed < wrappedMs && !anyData;
    try {
      // NULL probe (a probe file without one still gets a plain connect to read greetings).
      stats.probesSent++;
      let nullRun: ProbeRun | undefined;
      let nullData = 0;
      const nullTest = nullProbe ? search.tester(nullProbe) : () => false;
      const nullDone = tcpExchange(ip, port, Buffer.alloc(0), tunnel, this.waitOf(nullProbe), this.o,
        (data) => {
          nullData = data.length;
          return nullTest(data);
        }, ac.signal).then((r) => {
        nullRun = r;
        account(r, 'NULL');
        if (!search.decided && isWrapped(r)) wrapped = true; // nmap stops here: the probes after NULL were never sent
        if (search.decided || wrapped) ac.abort(); // settled: stop the others
        return r;
      });
      await Promise.race([nullDone, sleep(this.o.nullOverlapMs, ac.signal)]);
      if (search.decided) return { kind: 'match', match: search.decided, cert };
      if (nullRun) {
        if (!nullRun.connected) {
          return nullRun.end === 'tls-failed' ? { kind: 'unmatched', cert } : { kind: 'unreachable' };
        }
        if (wrapped) return { kind: 'tcpwrapped', cert };
      }
      for (const step of probeSequence(file, 'tcp', port, tunnel)) {
        if (search.decided || wrapped || ac.signal.aborted) break;
        if (!probeWanted(step, this.o.intensity, search.soft?.service)) continue;
        const probe = step.probe;
        stats.probesSent++;
        const r = await tcpExchange(ip, port, probe.payload, tunnel, this.waitOf(probe), this.o, search.tester(probe), ac.signal);
        account(r, probe.name);
        if (!r.connected && (r.end === 'refused' || r.end === 'tls-failed')) break;
      }
      // A greeting still on its way may decide. A NULL connection silent through the whole
      // sequence is not waited out: every later probe's connection would have carried the same
      // greeting, and its response was tested against the NULL probe's matches too.
      if (!search.decided && !nullRun && nullData === 0) ac.abort();
      if (!search.decided) await nullDone;
      if (wrapped && !search.decided) return { kind: 'tcpwrapped', cert };
      if (search.decided) return { kind: 'match', match: search.decided, cert };
      if (search.soft) return { kind: 'soft', match: search.soft, cert, ...heard() };
      return { kind: 'unmatched', cert, ...heard() };
    } finally {
      outer.removeEventListener('abort', stop);
      ac.abort();
    }
  }

  private async udpSearch(
    ip: string,
    port: number,
    signal: AbortSignal,
    stats: { bytesRead: number; probesSent: number },
  ): Promise<Omit<PortOutcome, 'bytesRead' | 'probesSent'>> {
    const file = this.o.probes;
    const search = new MatchSearch(file);
    let answered = false;
    const responses: ProbeResponse[] = [];
    let firstResponseAt: number | undefined;
    for (const step of probeSequence(file, 'udp', port, false)) {
      if (search.decided || signal.aborted) break;
      if (!probeWanted(step, this.o.intensity, search.soft?.service)) continue;
      const probe = step.probe;
      stats.probesSent++;
      const r = await udpExchange(ip, port, probe.payload, this.waitOf(probe), this.o, search.tester(probe), signal);
      stats.bytesRead += r.data.length;
      if (r.data.length > 0) {
        answered = true;
        firstResponseAt ??= Date.now();
        responses.push({ probe: probe.name, data: r.data });
      }
      if (r.end === 'refused') return { kind: 'unreachable' };
    }
    if (search.decided) return { kind: 'match', match: search.decided };
    if (search.soft) return { kind: 'soft', match: search.soft, responses, firstResponseAt };
    return answered ? { kind: 'unmatched', responses, firstResponseAt } : { kind: 'unreachable' };
  }
}
