/**
 * nmap's runtime interaction keys on a terminal: v/V verbosity up/down, d/D debugging up/down,
 * Enter or ? a status line, p/P packet trace on/off, q (TUI only) stop cleanly. The terminal
 * is in raw mode meanwhile, so Ctrl-C is turned back into SIGINT (the usual clean stop) and
 * Ctrl-Z into a stop (with the terminal restored first).
 */
import fs from 'node:fs';
import type { Interaction } from './interaction.js';

/** Where keys' answers go: the status line's reporter, or the TUI (which also takes q). */
export interface KeySink {
  say(text: string): void;
  statusNow(): void;
  quit?(): void;
}

export function handleKey(key: string, interaction: Interaction, reporter: KeySink): void {
  switch (key) {
    case 'v': interaction.verbose++; reporter.say(`Verbosity Increased to ${interaction.verbose}.\n`); break;
    case 'V': if (interaction.verbose > 0) interaction.verbose--; reporter.say(`Verbosity Decreased to ${interaction.verbose}.\n`); break;
    case 'd': interaction.debug++; reporter.say(`Debugging Increased to ${interaction.debug}.\n`); break;
    case 'D': if (interaction.debug > 0) interaction.debug--; reporter.say(`Debugging Decreased to ${interaction.debug}.\n`); break;
    case 'p': interaction.packetTrace = true; reporter.say('Packet Tracing enabled.\n'); break;
    case 'P': interaction.packetTrace = false; reporter.say('Packet Tracing disabled.\n'); break;
    case '\r': case '\n': case '?': reporter.statusNow(); break;
    case 'q': reporter.quit?.(); break;
    default: break;
  }
}

/**
 * True when this process is in its terminal's foreground process group. A background job
 * (`prtip scan … &`) that read the terminal would be stopped by SIGTTIN, so it takes no keys.
 */
export function inForeground(): boolean {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state, ppid, pgrp, session, tty_nr, tpgid.
    return fields[2] === fields[5];
  } catch {
    return false;
  }
}

/** Listens for keys while the scan runs; returns the function that restores the terminal. */
export function listenForKeys(interaction: Interaction, reporter: KeySink, input: NodeJS.ReadStream = process.stdin): () => void {
  if (!input.isTTY || typeof input.setRawMode !== 'function' || !inForeground()) return () => {};
  // Ctrl-Z: the terminal back to normal, then stop as the shell expects; raw again on fg.
  const onCont = () => { if (!restored) input.setRawMode(true); };
  const onData = (chunk: Buffer) => {
    for (const key of chunk.toString('latin1')) {
      if (key === '\x03') process.kill(process.pid, 'SIGINT');
      else if (key === '\x1a') {
        input.setRawMode(false);
        process.kill(process.pid, 'SIGSTOP');
      } else handleKey(key, interaction, reporter);
    }
  };
  input.setRawMode(true);
  input.on('data', onData);
  process.on('SIGCONT', onCont);
  input.resume();
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    input.off('data', onData);
    process.off('SIGCONT', onCont);
    input.setRawMode(false);
    input.pause();
  };
  process.once('exit', restore);
  return restore;
}
