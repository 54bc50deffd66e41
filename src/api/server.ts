// HTTP API (Fastify). For now: /healthz and /api/status; the full API and UI come later.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../log.js';

export interface ApiContext {
  host: string;
  port: number;
  log: Logger;
  status: () => Record<string, unknown>;
}

export class ApiServer {
  private app?: FastifyInstance;
  url = '';

  constructor(private readonly ctx: ApiContext) {}

  async start(): Promise<void> {
    const app = Fastify({ logger: false });
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/api/status', async () => ({ status: 'ok', data: this.ctx.status() }));
    const addr = await app.listen({ host: this.ctx.host, port: this.ctx.port }).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`cannot listen on http ${this.ctx.host}:${this.ctx.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`);
    });
    this.url = addr;
    this.app = app;
  }

  async stop(): Promise<void> {
    await this.app?.close();
  }
}
