/**
 * openssl.bignum_* for NSE libraries (ssh2's Diffie-Hellman, RSA helpers), over BigInt.
 * Bignums cross to Lua as hex text ("-" for negatives).
 */
import { randomBytes } from 'node:crypto';
import type { LuaIn } from './lua-vm.js';

const big = (hex: unknown): bigint => {
  const s = String(hex ?? '0');
  const neg = s.startsWith('-');
  const body = (neg ? s.slice(1) : s) || '0';
  const v = BigInt(`0x${body}`);
  return neg ? -v : v;
};
const hex = (v: bigint): string => (v < 0n ? `-${(-v).toString(16)}` : v.toString(16));
const abs = (v: bigint): bigint => (v < 0n ? -v : v);

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  if (m === 1n) return 0n;
  let r = 1n;
  b %= m;
  if (b < 0n) b += m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    e >>= 1n;
    b = (b * b) % m;
  }
  return r;
}

function bitLength(v: bigint): number {
  return v === 0n ? 0 : abs(v).toString(2).length;
}

/** Miller-Rabin with 24 random bases: what BN_is_prime_ex's default amounts to. */
function isProbablePrime(n: bigint): boolean {
  if (n < 2n) return false;
  for (const p of [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n]) {
    if (n === p) return true;
    if (n % p === 0n) return false;
  }
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  const bytes = Math.ceil(bitLength(n) / 8);
  for (let i = 0; i < 24; i++) {
    const a = (BigInt(`0x${randomBytes(bytes).toString('hex')}`) % (n - 3n)) + 2n;
    let x = modPow(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    let composite = true;
    for (let r = 1; r < s; r++) {
      x = (x * x) % n;
      if (x === n - 1n) {
        composite = false;
        break;
      }
    }
    if (composite) return false;
  }
  return true;
}

export function bignumOp(op: string, a: unknown[]): LuaIn[] {
  switch (op) {
    case 'bin2hex': {
      const b = Buffer.from(String(a[0] ?? ''), 'latin1');
      return [b.length ? hex(BigInt(`0x${b.toString('hex')}`)) : '0'];
    }
    case 'dec2hex': return [hex(BigInt(String(a[0]).trim() || '0'))];
    case 'norm': return [hex(big(String(a[0]).toLowerCase()))];
    case 'dec': return [big(a[0]).toString(10)];
    case 'upperhex': return [big(a[0]).toString(16).toUpperCase()];
    case 'bn2bin': {
      let h = abs(big(a[0])).toString(16);
      if (h === '0') return [''];
      if (h.length % 2) h = `0${h}`;
      return [Buffer.from(h, 'hex').toString('latin1')];
    }
    case 'bits': return [bitLength(big(a[0]))];
    case 'bytes': return [Math.ceil(bitLength(big(a[0])) / 8)];
    case 'bit': return [((abs(big(a[0])) >> BigInt(Number(a[1]))) & 1n) === 1n];
    case 'setbit': return [hex(big(a[0]) | (1n << BigInt(Number(a[1]))))];
    case 'clearbit': return [hex(big(a[0]) & ~(1n << BigInt(Number(a[1]))))];
    case 'prime': return [isProbablePrime(big(a[0]))];
    case 'safeprime': {
      const n = big(a[0]);
      return [isProbablePrime(n) && isProbablePrime((n - 1n) / 2n)];
    }
    case 'rand': {
      const bits = Math.max(1, Number(a[0]) | 0);
      const b = randomBytes(Math.ceil(bits / 8));
      let v = BigInt(`0x${b.toString('hex')}`) & ((1n << BigInt(bits)) - 1n);
      v |= 1n << BigInt(bits - 1); // BN_rand with top=0: the top bit set
      return [hex(v)];
    }
    case 'modexp': return [hex(modPow(big(a[0]), big(a[1]), big(a[2])))];
    case 'add': return [hex(big(a[0]) + big(a[1]))];
    case 'sub': return [hex(big(a[0]) - big(a[1]))];
    case 'mul': return [hex(big(a[0]) * big(a[1]))];
    case 'div': {
      const d = big(a[1]);
      if (d === 0n) return [null, 'division by zero'];
      return [hex(big(a[0]) / d), hex(big(a[0]) % d)];
    }
    case 'mod': {
      const d = big(a[1]);
      if (d === 0n) return [null, 'division by zero'];
      return [hex(((big(a[0]) % d) + d) % d)];
    }
    case 'cmp': {
      const x = big(a[0]);
      const y = big(a[1]);
      return [x < y ? -1 : x > y ? 1 : 0];
    }
    case 'gcd': {
      let x = abs(big(a[0]));
      let y = abs(big(a[1]));
      while (y) [x, y] = [y, x % y];
      return [hex(x)];
    }
    default: return [null, `unknown bignum operation "${op}"`];
  }
}
