/**
 * Keeps proxy credentials out of every log line and error message.
 *
 * Two layers: patterns that mask any URL userinfo or Basic credentials
 * wherever they appear, and the literal secrets of the configured proxies
 * (raw, percent-decoded, base64 and JSON-escaped forms) for messages that
 * quote them out of context.
 */
const MASK = '***';
/** Bare secrets shorter than this are only masked through the patterns, so a
 * one-letter password does not shred every log line. */
const MIN_LITERAL_LENGTH = 4;

const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^/?#\s"'@]*@/gi;
const BASIC_CREDENTIALS = /(basic\s+)[a-z0-9+/=._~-]+/gi;

/** Masks the userinfo of a URL-like string, with or without a scheme. */
export function redactUrlString(value: string): string {
  const masked = value.replace(URL_USERINFO, `$1${MASK}@`);
  if (!masked.includes('://') && /^[^/?#\s]*@/.test(masked)) {
    return masked.replace(/^[^/?#\s]*@/, `${MASK}@`);
  }
  return masked;
}

export class Redactor {
  private readonly literals = new Set<string>();

  /** Registers the credentials of a proxy URL as secrets. */
  addUrlCredentials(url: URL): void {
    const { username, password } = url;
    if (!username && !password) return;
    const user = safeDecode(username);
    const pass = safeDecode(password);
    const pair = `${user}:${pass}`;
    for (const secret of [password, pass, `${username}:${password}`, pair, Buffer.from(pair).toString('base64')]) {
      this.addLiteral(secret);
    }
  }

  redact(text: string): string {
    let out = text.replace(URL_USERINFO, `$1${MASK}@`).replace(BASIC_CREDENTIALS, `$1${MASK}`);
    for (const secret of this.literals) {
      if (out.includes(secret)) out = out.split(secret).join(MASK);
    }
    return out;
  }

  private addLiteral(secret: string): void {
    if (secret.length < MIN_LITERAL_LENGTH) return;
    this.literals.add(secret);
    // Log lines are JSON: quotes and backslashes appear escaped there.
    this.literals.add(JSON.stringify(secret).slice(1, -1));
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
