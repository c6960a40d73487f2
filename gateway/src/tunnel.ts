/** What a client speaks inside a CONNECT tunnel. */
export type TunnelKind = 'tls' | 'h2c' | 'http1';

/** First byte of a TLS record carrying a handshake (the ClientHello). */
const TLS_HANDSHAKE = 0x16;
/** The HTTP/2 connection preface a client with prior knowledge (h2c) starts with. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * Tells the tunnel's protocol from the client's first bytes, or undefined
 * while they could still be the start of the HTTP/2 preface.
 */
export function sniffTunnel(data: Buffer): TunnelKind | undefined {
  if (data.length === 0) return undefined;
  if (data[0] === TLS_HANDSHAKE) return 'tls';
  const compared = Math.min(data.length, H2_PREFACE.length);
  if (data.subarray(0, compared).equals(H2_PREFACE.subarray(0, compared))) {
    return data.length >= H2_PREFACE.length ? 'h2c' : undefined;
  }
  return 'http1';
}
