/**
 * The vault directory as the core sees it: relative POSIX paths and bytes. The core stays runtime-neutral
 * (no `node:fs`); the agent provides a file-system implementation, tests and benches an in-memory one.
 */
export interface VaultFiles {
  /** The file's bytes, or undefined when it does not exist. */
  read(path: string): Promise<Uint8Array | undefined>;
  /** Replaces the file atomically (write + rename on disk), creating parent directories. */
  write(path: string, data: Uint8Array): Promise<void>;
  /** Appends to the file, creating it. */
  append(path: string, data: Uint8Array): Promise<void>;
  remove(path: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  isDirectory(path: string): Promise<boolean>;
  /**
   * Every regular file under the root, recursively, dotfiles included, as relative POSIX paths. Symlinks
   * that leave the root are not listed (Provara's manifest generator skips them).
   */
  listFiles(): Promise<string[]>;
}

/** A VaultFiles held in memory: for tests, benches, and building a vault before it touches a disk. */
export class MemoryVaultFiles implements VaultFiles {
  readonly files = new Map<string, Uint8Array>();
  readonly dirs = new Set<string>();

  async read(path: string) {
    return this.files.get(path);
  }
  async write(path: string, data: Uint8Array) {
    this.files.set(path, data.slice());
  }
  async append(path: string, data: Uint8Array) {
    const old = this.files.get(path);
    if (!old) {
      this.files.set(path, data.slice());
      return;
    }
    const out = new Uint8Array(old.length + data.length);
    out.set(old);
    out.set(data, old.length);
    this.files.set(path, out);
  }
  async remove(path: string) {
    this.files.delete(path);
  }
  async mkdir(path: string) {
    this.dirs.add(path);
  }
  async isDirectory(path: string) {
    if (this.dirs.has(path)) return true;
    for (const f of this.files.keys()) if (f.startsWith(`${path}/`)) return true;
    return false;
  }
  async listFiles() {
    return [...this.files.keys()];
  }
}
