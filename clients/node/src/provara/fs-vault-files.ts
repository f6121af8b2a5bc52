import {
  appendFile,
  mkdir,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { VaultFiles } from '../../../../shared/provara/vault-files.ts';

/**
 * The vault directory on disk. Writes go to a temporary file and are renamed into place, so a crash
 * never leaves a half-written keys.json or manifest. Paths are relative POSIX paths as in the manifest.
 */
export class FsVaultFiles implements VaultFiles {
  constructor(readonly root: string) {}

  private abs(path: string): string {
    if (path.split('/').some((p) => p === '..' || p === '')) throw new Error(`unsafe vault path ${path}`);
    return join(this.root, ...path.split('/'));
  }

  async read(path: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.abs(path)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'EISDIR')
        return undefined;
      throw e;
    }
  }

  async write(path: string, data: Uint8Array): Promise<void> {
    const target = this.abs(path);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${process.pid}`;
    await writeFile(tmp, data);
    await rename(tmp, target);
  }

  async append(path: string, data: Uint8Array): Promise<void> {
    const target = this.abs(path);
    await mkdir(dirname(target), { recursive: true });
    await appendFile(target, data);
  }

  async remove(path: string): Promise<void> {
    await rm(this.abs(path), { force: true });
  }

  async mkdir(path: string): Promise<void> {
    await mkdir(this.abs(path), { recursive: true });
  }

  async isDirectory(path: string): Promise<boolean> {
    try {
      return (await stat(this.abs(path))).isDirectory();
    } catch {
      return false;
    }
  }

  async listFiles(): Promise<string[]> {
    const rootReal = await realpath(this.root);
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const d of await readdir(dir, { withFileTypes: true })) {
        const full = join(dir, d.name);
        if (d.isSymbolicLink()) {
          // Provara skips symlinks that escape the vault; we follow only those that stay inside.
          const real = await realpath(full).catch(() => undefined);
          if (!real || !(real === rootReal || real.startsWith(rootReal + sep))) continue;
          const st = await stat(full);
          if (st.isDirectory()) await walk(full);
          else if (st.isFile()) out.push(relative(this.root, full).split(sep).join('/'));
        } else if (d.isDirectory()) await walk(full);
        else if (d.isFile()) out.push(relative(this.root, full).split(sep).join('/'));
      }
    };
    await walk(this.root);
    return out;
  }
}
