// The test API of `smart-home test`: globals of a test file (NAME.test.ts next to the scripts),
// on top of the script API (smart-home.d.ts). Each test runs in a simulated home of its own: the
// hub's scripts and automations, a virtual clock, devices the test declares, nothing sent.

/** A test: `fn` may be async; it fails when it throws (a failed expect) or rejects. */
declare function test(name: string, fn: () => unknown): void;
/** The same as test(). */
declare function it(name: string, fn: () => unknown): void;

interface Matchers {
  /** The same value (Object.is). */
  toBe(expected: unknown): void;
  /** Deeply equal (keys holding undefined do not count). */
  toEqual(expected: unknown): void;
  /** Has at least these keys with these values, deeply. */
  toMatchObject(expected: object): void;
  toBeTruthy(): void;
  toBeFalsy(): void;
  toBeUndefined(): void;
  toBeNull(): void;
  toBeGreaterThan(n: number): void;
  toBeLessThan(n: number): void;
  /** An array or a string of this length. */
  toHaveLength(n: number): void;
  /** An array with an element equal to it, or a string containing it. */
  toContain(item: unknown): void;
  /** A string matching the expression (or containing the text). */
  toMatch(pattern: RegExp | string): void;
}

declare function expect(received: unknown): Matchers & { not: Matchers };

/** What a test sees of a message the hub published. */
interface PublishedMessage {
  topic: string;
  /** JSON parsed when it is JSON, else the text. */
  payload: any;
  qos: 0 | 1 | 2;
  retain: boolean;
}

/** An entity action someone in the home asked for. */
interface AskedAction {
  entity: string;
  action: string;
  params: Record<string, unknown>;
  /** Who asked: `script NAME`, `automation ID`, `test`, ... */
  caller: string;
  /** `ok`, or the error's code. */
  result: string;
}

declare const home: {
  /**
   * Declares a device: an entity with this state whose actions do what the real device would
   * report (light.x turn_on -> "on" with the brightness asked for). Called again: a new report.
   */
  device(
    id: string,
    spec?: { state?: unknown; attributes?: Record<string, unknown>; name?: string; area?: string },
  ): void;
  /** An entity's state (null when it has none or does not exist). */
  state(id: string): any;
  entity(id: string): { state: any; attributes: Record<string, any>; available: boolean } | null;
  /** The payloads the hub published on `topic` (a filter with + and # too), oldest first. */
  published(topic: string): any[];
  /** The messages the hub published on topics matching `filter` (default #). */
  messages(filter?: string): PublishedMessage[];
  /** The entity actions asked for (of one entity). */
  actions(entityId?: string): AskedAction[];
  /** What scripts logged, as "level: message" (of one script). */
  logs(script?: string): string[];
  /** The notifications sent (to one target): recorded, never sent. */
  notifications(target?: string): { target: string; message: string; title?: string; priority?: string }[];
  /** Forgets what was recorded so far. */
  clear(): void;
  /** A message from a device through the broker; resolves when the home settled. */
  publish(topic: string, payload: string | object, opts?: { qos?: 0 | 1 | 2; retain?: boolean }): Promise<void>;
  /** A device reports a state (and attributes); resolves when the home settled. */
  set(id: string, state: unknown, attributes?: Record<string, unknown>): Promise<void>;
  /** Asks an entity for an action as a user would; rejects with the action's error. */
  call(id: string, action: string, params?: Record<string, unknown>): Promise<void>;
  /** Runs an automation as its Run button would. */
  run(automationId: string): Promise<void>;
  /** Waits until nothing is at work that does not wait for the clock. */
  settle(): Promise<void>;
};

declare const clock: {
  /** The virtual time (Date and Date.now() in scripts and tests read it too). */
  now(): number;
  /** Moves time on: ms, or a duration such as '30s', '10m', '1h30m', '2d'. Everything due on the way happens, in order. */
  advance(by: number | string): Promise<void>;
  /** Moves time on to this moment (local time when it has no offset); never back. */
  set(to: string | number | Date): Promise<void>;
};
