// Reading nmap's (and prtip's nmap-style) -oN OS section back: the fingerprint block, the guess
// list, the section's lines. Shared by the OS lab tests.

/** The fingerprint block: the lines after "TCP/IP fingerprint:" up to a blank line or one that is not part of a print (prtip's -oN puts "Network Distance" right after it). */
export function nmapFingerprint(out: string): string {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith('TCP/IP fingerprint:'));
  if (at < 0) throw new Error(`no fingerprint printed:\n${out}`);
  const block: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (l.trim() === '' || !/^(OS:|[A-Z][A-Z0-9]*\()/.test(l)) break;
    block.push(l);
  }
  return block.join('\n');
}

/** "Aggressive OS guesses: A (96%), B (95%)" or "OS details: A, B" → entries. */
export function nmapGuesses(out: string): { perfect: boolean; list: Array<{ name: string; percent: number }> } {
  const details = /^OS details: (.*)$/m.exec(out);
  if (details) return { perfect: true, list: details[1]!.split(', ').map((name) => ({ name, percent: 100 })) };
  const guesses = /^Aggressive OS guesses: (.*)$/m.exec(out);
  if (!guesses) return { perfect: false, list: [] };
  return { perfect: false, list: [...guesses[1]!.matchAll(/(.+?) \((\d+)%\)(?:, |$)/g)].map((m) => ({ name: m[1]!, percent: Number(m[2]) })) };
}

/** The OS section: from its first OS line to "Network Distance" or "IP ID Sequence Generation", blank lines dropped, the uptime's value masked. */
export function nmapOsSection(out: string): string[] {
  const lines = out.split('\n');
  const first = lines.findIndex((l) => /^(Warning: OSScan|Device type:|Running|OS CPE:|OS details:|Aggressive OS guesses:|No exact OS|No OS matches|OS fingerprint not ideal|Too many fingerprints)/.test(l));
  let last = lines.findIndex((l) => l.startsWith('IP ID Sequence Generation:'));
  if (last < 0) last = lines.findIndex((l) => l.startsWith('Network Distance:'));
  if (first < 0 || last < first) throw new Error(`no OS section in the output:\n${out}`);
  return lines.slice(first, last + 1).filter((l) => l.trim() !== '').map((l) => (l.startsWith('Uptime guess:') ? 'Uptime guess: *' : l));
}
