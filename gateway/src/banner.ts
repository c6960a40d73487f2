import * as net from 'node:net';
import { listenOn } from '../../runtime/src/program';

/** What the banner port writes on every connection, before the client says anything (as SMTP or MySQL do). */
export const BANNER = '220 proxy-telemetry probe\r\n';
/** A connection that says nothing is closed after this. */
const BANNER_IDLE_MS = 10_000;

/**
 * The optional banner port (BANNER_PORT): a server-first TCP service. It speaks first, which a sidecar listener
 * filter waiting for the client's first bytes (a TLS inspector on virtualOutbound) would stall, so `proxy-telemetry
 * deploy` reaches it from a crawler pod through its sidecar and expects the banner within a second. It answers the
 * client's first line with `221 bye` and closes; it counts nothing and never connects anywhere.
 */
export class BannerServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor() {
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      socket.setTimeout(BANNER_IDLE_MS, () => socket.destroy());
      socket.once('data', () => socket.end('221 bye\r\n'));
      socket.write(BANNER);
    });
  }

  /** Opens the banner port; resolves with the bound port. */
  listen(port: number, host?: string): Promise<number> {
    return listenOn(this.server, port, host);
  }

  /** No new connections; open ones are closed. */
  close(): void {
    if (this.server.listening) this.server.close();
    for (const socket of this.sockets) socket.destroy();
  }
}
