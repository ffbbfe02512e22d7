/**
 * Text that is always well-formed XML 1.0, whatever bytes a banner held. XML cannot carry
 * C0 control characters (except tab, LF, CR), lone surrogates, U+FFFE or U+FFFF even as
 * character references: those become the visible text "\xHH" (controls) or U+FFFD.
 */
// eslint-disable-next-line no-control-regex
const ILLEGAL = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function legal(text: string): string {
  return text.replace(ILLEGAL, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x20 ? `\\x${code.toString(16).padStart(2, '0')}` : '\ufffd';
  });
}

/** For attribute values: markup characters and whitespace that attribute normalisation would eat are escaped. */
export function xmlAttr(value: string | number): string {
  return legal(String(value)).replace(/[&<>"'\t\n\r]/g, (c) => {
    switch (c) {
      case '&': return '&amp;';
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '"': return '&quot;';
      case "'": return '&apos;';
      default: return `&#${c.charCodeAt(0)};`;
    }
  });
}

/** For element text: never a CDATA section, so "]]>" in a banner is just text ("]]&gt;"). */
export function xmlText(value: string): string {
  return legal(value).replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#13;'));
}

/** An element with attributes (undefined values are left out). */
export function xmlElement(name: string, attrs: Record<string, string | number | undefined>, body?: string): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${xmlAttr(v!)}"`)
    .join('');
  return body === undefined ? `<${name}${a}/>` : `<${name}${a}>${body}</${name}>`;
}
