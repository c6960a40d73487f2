import * as crypto from 'node:crypto';
import type { Credentials } from './config';
import { DEFAULT_ACCOUNT } from './defaults';

const digest = (text: string): Buffer => crypto.createHash('sha256').update(text, 'utf8').digest();

/**
 * Checks `Proxy-Authorization: Basic` against PROXY_USERNAME and
 * PROXY_PASSWORD. Without configured credentials every request passes.
 */
export class ProxyAuth {
  /** The `Proxy-Authenticate` value sent with 407. */
  readonly challenge: string;
  /** What authenticated requests are billed to: the user name, or DEFAULT_ACCOUNT without credentials. */
  readonly account: string;
  private readonly expected?: Buffer;

  constructor(credentials: Credentials | undefined, vendor: string) {
    this.challenge = `Basic realm="${vendor.replace(/["\\]/g, '')} demo gateway", charset="UTF-8"`;
    this.account = credentials?.username ?? DEFAULT_ACCOUNT;
    // Digests have one length, so the comparison takes the same time for
    // every wrong answer.
    if (credentials) this.expected = digest(`${credentials.username}:${credentials.password}`);
  }

  get required(): boolean {
    return this.expected !== undefined;
  }

  /** True when the header carries the configured credentials (or none are configured). */
  check(header: string | string[] | undefined): boolean {
    if (!this.expected) return true;
    if (typeof header !== 'string') return false;
    const match = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
    if (!match) return false;
    return crypto.timingSafeEqual(digest(Buffer.from(match[1], 'base64').toString('utf8')), this.expected);
  }

  /** The account a request with this header is billed to, or undefined when it does not authenticate. */
  accountOf(header: string | string[] | undefined): string | undefined {
    return this.check(header) ? this.account : undefined;
  }
}
