// The embedded broker: Aedes with SQLite persistence, listeners, auth, ACL, limits, $SYS, mDNS.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type Client, type AuthenticateError } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { BrokerConfig, ListenerConfig } from '../config/schema.js';
import type { Db } from '../store/db.js';
import type { UserStore } from '../store/users.js';
import type { Logger } from '../log.js';
import { Acl } from './acl.js';
import { boundWrites, guardSocket, type SocketLike } from './guard.js';
import { AuthLimiter } from './auth-limiter.js';
import { ClientOwners } from '../store/client-owners.js';
import { metaValue } from '../store/meta.js';
import { PendingConnects } from './pending-connects.js';
import {
  applyGrantedQos,
  checkSeams,
  connectedClients,
  dropPublish,
  holdPubacks,
  isReserved,
  markStored,
  releaseStored,
  RESERVED_LEVEL,
} from './aedes-seams.js';
import { createSqlitePersistence, type BrokerPersistence } from './persistence.js';
import { duplexPair } from './pair.js';
import { SysTopics } from './sys.js';
import { Advertiser } from './mdns.js';
import { isLoopback } from '../address.js';

export interface BrokerContext {
  config: BrokerConfig;
  db: Db;
  users: UserStore;
  log: Logger;
  version: string;
  /** Shared with the API, so a password guessed over HTTP counts against MQTT logins too. */
  authLimiter?: AuthLimiter;
}

export class BrokerConfigError extends Error {
  override name = 'BrokerConfigError';
}

export interface BoundListener {
  type: ListenerConfig['type'];
  host: string;
  port: number;
  url: string;
}

const IDENTIFIER_REJECTED = 2;
const AUTH_BAD_CREDENTIALS = 4;
const AUTH_NOT_AUTHORIZED = 5;

export class Broker {
  private aedes?: Aedes;
  private readonly servers: { close(cb: () => void): void }[] = [];
  private readonly sockets = new Set<SocketLike>();
  private readonly unfinished: PendingConnects<SocketLike>;
  private readonly internal = new WeakSet<object>();
  private readonly info = new WeakMap<Client, ClientInfo>();
  private _acl?: Acl;
  /** The ACL in force (undefined: none configured, everything allowed). */
  get acl(): Acl | undefined {
    return this._acl;
  }
  /** allow_anonymous as configured; null: only while no user exists, decided per CONNECT. */
  private anonymousMode: boolean | null = false;
  private lockWatch?: NodeJS.Timeout;

  /** Whether an anonymous CONNECT is let in now (the user table is read each time: users are added from the CLI too). */
  private get allowAnonymous(): boolean {
    return this.anonymousMode ?? this.ctx.users.count() === 0;
  }
  private sys?: SysTopics;
  private mdns?: Advertiser;
  readonly listeners: BoundListener[] = [];
  private readonly authLimiter: AuthLimiter;
  private readonly owners: ClientOwners;
  private store?: BrokerPersistence;
  readonly stats = {
    received: 0,
    sent: 0,
    connected: 0,
    deniedPublish: 0,
    droppedPublish: 0,
    deniedSubscribe: 0,
    authFailures: 0,
    unfinishedEvicted: 0,
    slowConsumersDropped: 0,
  };

  constructor(private readonly ctx: BrokerContext) {
    this.authLimiter = ctx.authLimiter ?? new AuthLimiter(ctx.config.auth_failures);
    this.owners = new ClientOwners(ctx.db);
    this.unfinished = new PendingConnects(ctx.config, (socket, why) => {
      this.stats.unfinishedEvicted++;
      ctx.log.info({ remote: socket.remoteAddress }, `connection closed: ${why}`);
    });
  }

  async start(): Promise<void> {
    const { config, log } = this.ctx;
    this._acl = loadAcl(config);
    const everyListenerLoopback = config.listeners.every((l) => isLoopback(l.host));
    const hasUsers = this.ctx.users.count() > 0;
    if (config.allow_anonymous === null) {
      if (!everyListenerLoopback && !hasUsers) {
        const open = config.listeners
          .filter((l) => !isLoopback(l.host))
          .map((l) => `${l.type}://${l.host}:${l.port}`)
          .join(', ');
        throw new BrokerConfigError(
          `broker.listeners: ${open} is reachable from the network but no user is configured. ` +
            'Add a user (smart-home user add NAME) or set broker.allow_anonymous: true explicitly.',
        );
      }
      this.anonymousMode = null;
      // The first user locks the broker at once (issue 15): anonymous clients already connected
      // are disconnected when it appears, whether added through the API or by `smart-home user add`.
      if (!hasUsers) {
        this.lockWatch = setInterval(() => this.dropAnonymousOnceLocked(), 1000);
        this.lockWatch.unref();
      }
    } else {
      this.anonymousMode = config.allow_anonymous;
    }

    const persistence = createSqlitePersistence(this.ctx.db, (client) => this.internal.has(client.conn as object));
    this.store = persistence.store;
    this.aedes = await Aedes.createBroker({
      id: brokerId(this.ctx.db),
      persistence: persistence.aedes as never,
      connectTimeout: config.connect_timeout_ms,
      maxClientsIdLength: config.max_client_id_length,
      maxInflightInbound: config.max_inflight,
      queueLimit: config.max_queued,
      heartbeatInterval: 60000,
      // [MQTT-3.1.3-8]: Aedes would invent an id for a zero-length one with clean session 0; it
      // must be refused (CONNACK 0x02), which `authenticate` does from this mark.
      preConnect: (client, packet, done) => {
        this.unfinished.done(client.conn as SocketLike); // CONNECT arrived: no longer a slow-loris candidate
        if (packet.clientId === '' && !packet.clean) this.about(client).emptyPersistentId = true;
        // Aedes applies maxClientsIdLength to protocol level 3 only: a 65 535-byte id passed on 3.1.1
        if (Buffer.byteLength(packet.clientId ?? '', 'utf8') > config.max_client_id_length)
          this.about(client).idTooLong = true;
        done(null, true);
      },
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
      authorizeForward: (client, packet) => this.authorizeForward(client, packet),
      // Aedes is done with the message (stored, queued): a PUBACK held for it may go (aedes-seams.ts)
      published: (packet, client, done) => {
        releaseStored(packet, client);
        done(null);
      },
    });
    const aedes = this.aedes;
    // every reach-in past Aedes's documented API must engage on this install, or the start fails
    await checkSeams(aedes as never, () => {
      const [probe, brokerSide] = duplexPair();
      this.internal.add(brokerSide);
      return [probe, brokerSide];
    });
    aedes.on('publish', (_p, client) => {
      if (client) this.stats.received++;
    });
    aedes.on('clientReady', (client) => {
      this.stats.connected++;
      if (this.internal.has(client.conn)) return;
      const user = this.userOf(client) ?? '';
      // a persistent session belongs to the user who made it; a clean one leaves nothing to own
      if (client.clean) this.owners.release(client.id, user);
      else this.owners.claim(client.id, user);
    });
    aedes.on('clientDisconnect', () => {
      this.stats.connected--;
    });
    aedes.on('clientError', (client, err) => log.info({ clientId: client?.id, err: err.message }, 'client dropped'));
    aedes.on('connectionError', (client, err) =>
      log.info({ clientId: client?.id, err: err.message }, 'connection dropped before CONNECT completed'),
    );
    aedes.on('keepaliveTimeout', (client) => log.info({ clientId: client.id }, 'keep-alive timeout, client dropped'));

    for (const l of config.listeners) this.listeners.push(await this.listen(l));
    this.sys = new SysTopics(aedes, this.stats, this.ctx.version, config.sys_interval_s * 1000);
    this.sys.start();
    if (config.mdns) {
      this.mdns = new Advertiser(log);
      this.mdns.advertise(this.listeners.filter((l) => l.type !== 'ws'));
    }
  }

  /** An in-process MQTT connection for the hub's own client: no socket, no ACL. */
  connectInternal(): Duplex {
    if (!this.aedes) throw new Error('broker not started');
    const [hubSide, brokerSide] = duplexPair();
    this.internal.add(brokerSide);
    holdPubacks(brokerSide);
    // the granted-QoS rule holds for the hub's own connection too (issue 15): the explorer's QoS 0
    // '#' next to a script's QoS 2 filter must not deliver a QoS 1 message at QoS 0
    applyGrantedQos(this.aedes.handle(brokerSide));
    return hubSide;
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  /** Network connections held open, CONNECTed or not. */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** Write transactions the persistence has asked SQLite for since the start (group-commit entries). */
  get persistenceWrites(): number {
    return this.store?.writes ?? 0;
  }

  /**
   * Every message published to the broker, as published (with its retain flag, which Aedes clears
   * on delivery to existing subscriptions). For the bridge. Returns the function that stops it.
   */
  onPublish(fn: (packet: { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean }) => void): () => void {
    const listener = (
      packet: { topic: string; payload: Buffer | string; qos: 0 | 1 | 2; retain: boolean },
      client: Client | null,
    ) => {
      if (!client || packet.topic.startsWith('$')) return;
      fn({
        topic: packet.topic,
        payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
        qos: packet.qos,
        retain: packet.retain,
      });
    };
    this.aedes!.on('publish', listener as never);
    return () => this.aedes?.off('publish', listener as never);
  }

  /**
   * Publishes as the broker itself, as if a device had (the simulated home of smart-home test: its
   * messages are not the hub's, so onPublish does not see them). Resolves when the broker took it.
   */
  inject(topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) return Promise.reject(new Error('broker not started'));
    return new Promise((resolve, reject) =>
      aedes.publish({ cmd: 'publish', topic, payload, qos, retain, dup: false } as never, (err?: Error) =>
        err ? reject(err) : resolve(),
      ),
    );
  }

  /** The retained messages the broker keeps (not `$` topics), at most `max` of them. */
  async retained(max: number): Promise<{ topic: string; payload: Buffer }[]> {
    if (!this.store) return [];
    const out: { topic: string; payload: Buffer }[] = [];
    const stream = this.store.createRetainedStream('#') as AsyncIterable<{ topic: string; payload: Buffer | string }>;
    for await (const p of stream) {
      out.push({ topic: p.topic, payload: Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload) });
      if (out.length >= max) break;
    }
    return out;
  }

  /** Connected clients with their user, address and subscriptions (the hub's own client included). */
  clients(): {
    id: string;
    user?: string;
    address?: string;
    internal: boolean;
    subscriptions: { topic: string; qos: number }[];
  }[] {
    const all = this.aedesClients() as Record<string, Client & AedesClientView>;
    return Object.values(all).map((c) => ({
      id: c.id,
      user: this.userOf(c),
      address: this.internal.has(c.conn) ? undefined : remoteOf(c),
      internal: this.internal.has(c.conn),
      subscriptions: Object.entries(c.subscriptions ?? {}).map(([topic, s]) => ({ topic, qos: s.qos })),
    }));
  }

  /** Aedes's connected clients by id (aedes-seams.ts, seam 4). */
  private aedesClients(): Record<string, Client | undefined> {
    return connectedClients<Client>(this.aedes);
  }

  /** What the broker knows of a client (kept beside Aedes's object, not on it). */
  private about(client: Client): ClientInfo {
    let info = this.info.get(client);
    if (!info) {
      info = {};
      this.info.set(client, info);
    }
    return info;
  }

  private userOf(client: Client): string | undefined {
    return this.info.get(client)?.user;
  }

  async stop(): Promise<void> {
    this.mdns?.stop();
    this.sys?.stop();
    this.unfinished.stop();
    if (this.lockWatch) clearInterval(this.lockWatch);
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    if (this.aedes) await new Promise<void>((r) => this.aedes!.close(() => r()));
  }

  private async listen(l: ListenerConfig): Promise<BoundListener> {
    const onSocket = (socket: SocketLike) => this.accept(socket, l);
    let server: net.Server;
    if (l.type === 'tcp') server = net.createServer({ noDelay: true }, onSocket);
    else if (l.type === 'tls') {
      let opts: tls.TlsOptions;
      try {
        opts = { cert: readFileSync(l.cert), key: readFileSync(l.key), ca: l.ca ? readFileSync(l.ca) : undefined };
      } catch (err) {
        throw new BrokerConfigError(
          `broker.listeners (tls ${l.host}:${l.port}): cannot read certificate or key: ${(err as Error).message}`,
        );
      }
      server = tls.createServer(opts, (s) => {
        s.setNoDelay(true);
        onSocket(s);
      });
    } else {
      const httpServer = http.createServer((_req, res) => {
        res.statusCode = 426;
        res.end('MQTT over WebSocket: connect with a WebSocket client\n');
      });
      const wss = new WebSocketServer({
        server: httpServer,
        path: l.path,
        maxPayload: this.ctx.config.max_packet_size + 8,
      });
      wss.on('connection', (ws, req) => {
        const stream = createWebSocketStream(ws) as SocketLike;
        Object.defineProperty(stream, 'remoteAddress', { value: req.socket.remoteAddress });
        req.socket.setNoDelay(true);
        onSocket(stream);
      });
      server = httpServer;
    }
    server.on('error', (err) => this.ctx.log.error({ err }, 'listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new BrokerConfigError(
            `cannot listen on ${l.type} ${l.host}:${l.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`,
          ),
        ),
      );
      server.listen(l.port, l.host, () => resolve());
    });
    this.servers.push(server);
    const port = (server.address() as net.AddressInfo).port;
    const scheme = { tcp: 'mqtt', tls: 'mqtts', ws: 'ws' }[l.type];
    const host = l.host.includes(':') ? `[${l.host}]` : l.host;
    return { type: l.type, host: l.host, port, url: `${scheme}://${host}:${port}${l.type === 'ws' ? l.path : ''}` };
  }

  private accept(socket: SocketLike, l: ListenerConfig): void {
    const { config, log } = this.ctx;
    // full: an unfinished connection (no CONNECT yet) makes room before a new one is refused
    if (
      this.sockets.size >= config.max_connections &&
      !this.unfinished.evictOldest(
        `max_connections (${config.max_connections}) reached; the oldest connection without CONNECT made room`,
      )
    ) {
      log.warn(
        { remote: socket.remoteAddress, max: config.max_connections },
        'max_connections reached, connection refused',
      );
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    this.unfinished.add(socket);
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.unfinished.done(socket);
    });
    socket.on('error', () => {}); // reported through the guarded stream / aedes
    const conn = guardSocket(socket, config.max_packet_size, (reason) =>
      log.warn({ remote: socket.remoteAddress, listener: `${l.type}:${l.port}` }, `connection dropped: ${reason}`),
    );
    boundWrites(conn, config.max_client_buffer_kb * 1024, config.slow_client_timeout_ms, (buffered, why) => {
      this.stats.slowConsumersDropped++;
      log.warn(
        { remote: socket.remoteAddress, buffered },
        `slow consumer dropped (broker.max_client_buffer_kb ${config.max_client_buffer_kb}): ${why}`,
      );
    });
    holdPubacks(conn);
    applyGrantedQos(this.aedes!.handle(conn as never));
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: AuthenticateError | null, ok: boolean | null) => void,
  ): void {
    if (this.internal.has(client.conn)) return done(null, true);
    if (this.info.get(client)?.emptyPersistentId) {
      this.ctx.log.info(
        { remote: remoteOf(client) },
        'connection refused: a zero-length client id needs clean session 1',
      );
      const err = new Error('a zero-length client id needs clean session 1') as AuthenticateError;
      err.returnCode = IDENTIFIER_REJECTED;
      return done(err, false);
    }
    if (this.info.get(client)?.idTooLong) {
      this.ctx.log.info(
        { remote: remoteOf(client) },
        `connection refused: client id longer than broker.max_client_id_length (${this.ctx.config.max_client_id_length})`,
      );
      const err = new Error('client id too long') as AuthenticateError;
      err.returnCode = IDENTIFIER_REJECTED;
      return done(err, false);
    }
    const fail = (code: number, why: string) => {
      this.stats.authFailures++;
      this.ctx.log.warn({ clientId: client.id, username, remote: remoteOf(client) }, `authentication failed: ${why}`);
      const err = new Error(why) as AuthenticateError;
      err.returnCode = code;
      done(err, false);
    };
    if (username === undefined || username === '') {
      return this.allowAnonymous
        ? this.admitOwner(client, '', done)
        : fail(AUTH_NOT_AUTHORIZED, 'anonymous clients are not allowed');
    }
    const address = remoteOf(client) ?? 'unknown';
    const blocked = this.authLimiter.blocked(address, username);
    if (blocked) return fail(AUTH_NOT_AUTHORIZED, `refused without checking the password: ${blocked}`);
    this.ctx.users.verify(username, password?.toString('utf8') ?? '').then(
      (ok) => {
        if (!ok) {
          this.authLimiter.fail(address, username);
          return fail(AUTH_BAD_CREDENTIALS, 'bad user name or password');
        }
        this.authLimiter.succeed(address, username);
        this.about(client).user = username;
        this.admitOwner(client, username, done);
      },
      (err: Error) => fail(AUTH_NOT_AUTHORIZED, err.message),
    );
  }

  /**
   * A client id belongs to the user who holds it: connected now, or owner of its persistent
   * session. Another user is refused (CONNACK 0x02), instead of taking the connection over and
   * resuming the owner's session with its queued messages, as Aedes would.
   */
  private admitOwner(
    client: Client,
    user: string,
    done: (err: AuthenticateError | null, ok: boolean | null) => void,
  ): void {
    const live = this.aedesClients()[client.id];
    const owner = live && !this.internal.has(live.conn) ? (this.userOf(live) ?? '') : this.owners.owner(client.id);
    if (owner === undefined || owner === user) return done(null, true);
    this.stats.authFailures++;
    this.ctx.log.warn(
      { clientId: client.id, username: user || undefined, remote: remoteOf(client) },
      `connection refused: client id ${JSON.stringify(client.id)} belongs to ${owner ? `user "${owner}"` : 'an anonymous client'}`,
    );
    const err = new Error('client id belongs to another user') as AuthenticateError;
    err.returnCode = IDENTIFIER_REJECTED;
    done(err, false);
  }

  private dropAnonymousOnceLocked(): void {
    if (this.ctx.users.count() === 0) return;
    clearInterval(this.lockWatch);
    this.lockWatch = undefined;
    const anonymous = Object.values(this.aedesClients()).filter(
      (c): c is Client => c !== undefined && !this.internal.has(c.conn) && this.userOf(c) === undefined,
    );
    if (anonymous.length > 0)
      this.ctx.log.warn(
        { clients: anonymous.map((c) => c.id) },
        `a user was added: ${anonymous.length} anonymous client(s) disconnected (anonymous clients are refused from now on)`,
      );
    for (const c of anonymous) c.close();
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    if (!client) return done(null);
    if (this.internal.has(client.conn)) return this.allowPublish(client, packet, done);
    const user = this.userOf(client);
    if (packet.topic.startsWith('$') && this.dropReserved(client, packet))
      return this.allowPublish(client, packet, done);
    if (BAD_CHARS.test(packet.topic)) return this.denyPublish(client, packet.topic, done, BAD_CHARS_WHY);
    if (this._acl && !this._acl.allowed(user, client.id, packet.topic, 'write'))
      return this.denyPublish(client, packet.topic, done, 'denied by ACL');
    this.allowPublish(client, packet, done);
  }

  /**
   * A client's publish to `$SYS/…` (the broker's own) or `$smart-home/…` (the hub's) is
   * acknowledged and dropped, as Mosquitto does, and the client stays connected. Other `$` topics
   * go on like any topic (they reach only filters that name their first level).
   */
  private dropReserved(client: Client, packet: PublishPacket): boolean {
    const topic = packet.topic;
    if (topic !== '$SYS' && !topic.startsWith('$SYS/') && !isReserved(topic)) return false;
    this.stats.droppedPublish++;
    this.ctx.log.warn(
      { clientId: client.id, username: this.userOf(client), topic },
      `publish dropped: ${topic.startsWith('$SYS') ? '$SYS/ topics are written by the broker only' : `${RESERVED_LEVEL}/ topics are the hub's own`} (acknowledged, not delivered; the client stays connected)`,
    );
    dropPublish(packet);
    return true;
  }

  private allowPublish(client: Client, packet: PublishPacket, done: (err?: Error | null) => void): void {
    // a QoS 1 message that will be stored is acknowledged only once it is (aedes-seams.ts, seam 1)
    if (packet.qos === 1 && packet.messageId !== undefined && (packet.retain || this.store!.queuesFor(packet.topic)))
      markStored(client.conn, packet.messageId);
    done(null);
  }

  private denyPublish(client: Client, topic: string, done: (err?: Error | null) => void, why: string): void {
    this.stats.deniedPublish++;
    this.ctx.log.warn({ clientId: client.id, username: this.userOf(client), topic }, `publish not delivered: ${why}`);
    // MQTT 3.1.1 has no negative PUBACK; [MQTT-3.3.5-2] allows closing the connection instead,
    // which (unlike ack-and-drop) cannot leak the message into retained or queued state.
    done(new Error(`publish to ${topic} not authorized: ${why}`));
  }

  private authorizeSubscribe<S extends { topic: string }>(
    client: Client,
    sub: S,
    done: (err: Error | null, sub?: S | null) => void,
  ): void {
    if (this.internal.has(client.conn)) return done(null, sub);
    const user = this.userOf(client);
    if (isReserved(sub.topic)) {
      this.stats.deniedSubscribe++;
      this.ctx.log.warn(
        { clientId: client.id, username: user, topic: sub.topic },
        `subscribe refused (return code 0x80): ${RESERVED_LEVEL}/ is the hub's own`,
      );
      return done(null, null);
    }
    if (BAD_CHARS.test(sub.topic)) {
      this.ctx.log.warn(
        { clientId: client.id, topic: sub.topic },
        `subscribe refused, connection closed: ${BAD_CHARS_WHY}`,
      );
      return done(new Error(`filter ${JSON.stringify(sub.topic)}: ${BAD_CHARS_WHY}`));
    }
    if (this._acl && !this._acl.allowedFilter(user, client.id, sub.topic)) {
      this.stats.deniedSubscribe++;
      this.ctx.log.warn(
        { clientId: client.id, username: user, topic: sub.topic },
        'subscribe denied by ACL (return code 0x80)',
      );
      return done(null, null);
    }
    done(null, sub);
  }

  private authorizeForward<P extends { topic: string }>(client: Client, packet: P): P | null {
    // '$smart-home/': the hub's own (its start-up barrier): only to the hub's internal client
    if (packet.topic.charCodeAt(0) === 36 && isReserved(packet.topic))
      return this.internal.has(client.conn) ? packet : null;
    if (this.internal.has(client.conn)) {
      this.stats.sent++;
      return packet;
    }
    if (this._acl && !this._acl.allowed(this.userOf(client), client.id, packet.topic, 'read')) return null;
    this.stats.sent++;
    return packet;
  }
}

// [MQTT-1.5.3-1] [MQTT-1.5.3-2]: a string with U+0000 or ill-formed UTF-8 closes the connection.
// mqtt-packet decodes ill-formed UTF-8 to U+FFFD, so that is what is left to see (a topic that
// really contains U+FFFD is refused too; no device names topics with the replacement character).
const BAD_CHARS = /[\u0000\uFFFD]/;
const BAD_CHARS_WHY = 'the topic contains U+0000 or is not well-formed UTF-8';

interface PublishPacket {
  topic: string;
  payload: Buffer | string;
  qos: number;
  retain: boolean;
  messageId?: number;
}

interface ClientInfo {
  user?: string;
  emptyPersistentId?: boolean;
  idTooLong?: boolean;
}

function remoteOf(client: Client): string | undefined {
  return (client.conn as SocketLike | undefined)?.remoteAddress;
}

function loadAcl(config: BrokerConfig): Acl | undefined {
  if (config.acl && config.acl_file) throw new BrokerConfigError('broker: set either acl or acl_file, not both');
  if (config.acl) return Acl.parse(config.acl, 'broker.acl');
  if (config.acl_file) {
    let text: string;
    try {
      text = readFileSync(config.acl_file, 'utf8');
    } catch (err) {
      throw new BrokerConfigError(`broker.acl_file: cannot read ${config.acl_file}: ${(err as Error).message}`);
    }
    return Acl.parse(text, config.acl_file);
  }
  return undefined;
}

/** A stable broker id, so persisted packets and wills keep their owner across restarts. */
/** The broker's id, the same across restarts (stored packets carry it). */
function brokerId(db: Db): string {
  return metaValue(db, 'broker_id', () => `smart-home-${crypto.randomUUID()}`);
}

/** The parts of an Aedes client the API shows (Aedes keeps them as public fields). */
interface AedesClientView {
  subscriptions?: Record<string, { qos: number }>;
}
