import * as crypto from 'node:crypto';
import type { Credentials } from './config';

const digest = (text: string): Buffer => crypto.createHash('sha256').update(text, 'utf8').digest();

/**
 * Checks `Proxy-Authorization: Basic` against PROXY_USERNAME and
 * PROXY_PASSWORD. Without configured credentials every request passes.
 */
export class ProxyAuth {
  /** The `Proxy-Authenticate` value sent with 407. */
  readonly challenge: string;
  private readonly expected?: Buffer;

  constructor(credentials: Credentials | undefined, vendor: string) {
    this.challenge = `Basic realm="${vendor.replace(/["\\]/g, '')} demo gateway", charset="UTF-8"`;
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
}
