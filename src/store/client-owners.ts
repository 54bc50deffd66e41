// Which user created each persistent MQTT session. A client id belongs to that user: another user
// connecting with it is refused, so it can neither disconnect the owner nor resume the session and
// read its queued messages (anonymous clients count as the user "").
import type { Db } from './db.js';

export class ClientOwners {
  private readonly q;
  constructor(db: Db) {
    this.q = {
      get: db.prepare<[string], { user_name: string }>(
        'SELECT user_name FROM broker_client_owners WHERE client_id = ?',
      ),
      claim: db.prepare(
        'INSERT INTO broker_client_owners (client_id, user_name, since) VALUES (?, ?, ?) ON CONFLICT (client_id) DO NOTHING',
      ),
      release: db.prepare('DELETE FROM broker_client_owners WHERE client_id = ? AND user_name = ?'),
    };
  }

  owner(clientId: string): string | undefined {
    return this.q.get.get(clientId)?.user_name;
  }

  /** Records `user` as the owner unless the id already has one. */
  claim(clientId: string, user: string): void {
    this.q.claim.run(clientId, user, Date.now());
  }

  /** The owner's session ended (clean session): the id is free again. */
  release(clientId: string, user: string): void {
    this.q.release.run(clientId, user);
  }
}
