import { embeddedDatabaseUrl, type ServerProcess, type ServerSettings, startServer } from "./server-process.js";

/**
 * The server instances of a run. Instance 0 starts the embedded PostgreSQL (unless an
 * external one is given); further instances share its database and its data folder (so
 * they share the JWT key and the fingerprint secret, as the README requires).
 */
export class Fleet {
  readonly servers: ServerProcess[] = [];

  constructor(private readonly settings: ServerSettings) {}

  get embedded(): boolean {
    return this.settings.databaseUrl === undefined;
  }

  async startAll(instances: number): Promise<void> {
    this.servers.push(await startServer(this.settings));
    const databaseUrl = this.settings.databaseUrl ?? (instances > 1 ? embeddedDatabaseUrl(this.settings.dataDir) : undefined);
    for (let i = 1; i < instances; i++) this.servers.push(await startServer({ ...this.settings, databaseUrl }));
  }

  /** Starts instance 0 alone (start-up measurements), with its own log level. */
  async startFirst(logLevel: string): Promise<ServerProcess> {
    const server = await startServer({ ...this.settings, logLevel });
    this.servers.push(server);
    return server;
  }

  /** Stops every instance, the one owning the embedded PostgreSQL last; milliseconds each took. */
  async stopAll(): Promise<number[]> {
    const times: number[] = [];
    while (this.servers.length > 0) times.unshift(await this.servers.pop()!.stop());
    return times;
  }
}
