// A small document store: the block store, parked events, cancel requests and
// rejected events all live in one. A local folder now; S3 implements the same port.
import { mkdir, open, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { InvalidInputError } from './errors.js';

export interface DocumentStore {
  /** Where the store is, for messages (a folder path or `s3://bucket/prefix`). */
  readonly location: string;
  get(key: string): Promise<string | undefined>;
  put(key: string, body: string): Promise<void>;
  /** Writes only when the key does not exist yet; true when this call wrote it. */
  putIfAbsent(key: string, body: string): Promise<boolean>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
}

export function checkKey(key: string): string {
  if (
    !/^[A-Za-z0-9][A-Za-z0-9_./@=-]*$/.test(key) ||
    key.split('/').some((part) => part === '..' || part === '')
  ) {
    throw new InvalidInputError('Invalid store key', [
      {
        path: 'key',
        message: `'${key}' must be a relative path of letters, digits and -_.@= separated by '/'`,
      },
    ]);
  }
  return key;
}

/** File-system answers that say a key can never be read as a document, and what to do. */
const UNREADABLE_KEYS: Readonly<Record<string, string>> = {
  EISDIR: 'is a folder, not a document: remove the folder or name the document another way',
  ENAMETOOLONG: 'is a name too long for the file system: use a shorter name',
  ENOTDIR: 'goes through a file as if it were a folder: remove that file or use another name',
  ELOOP: 'is a symbolic link loop: fix or remove the link',
};

export class FolderStore implements DocumentStore {
  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  private path(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  async get(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(key), 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      // the key itself can never be read: a folder where a document should be, a name too long…
      const why = code ? UNREADABLE_KEYS[code] : undefined;
      if (why) {
        throw new InvalidInputError(
          `Cannot read '${key}' in ${this.root}`,
          [{ path: key, message: `${why} (${code})` }],
          { cause: error },
        );
      }
      throw error;
    }
  }

  async put(key: string, body: string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    // write-then-rename: readers never see half a document
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, body, { mode: 0o600 });
    await rename(tmp, path);
  }

  async putIfAbsent(key: string, body: string): Promise<boolean> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    try {
      await handle.writeFile(body);
    } finally {
      await handle.close();
    }
    return true;
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (!entry.name.endsWith('.tmp')) keys.push(relative(this.root, full).split(sep).join('/'));
      }
    };
    await walk(this.root);
    return keys.filter((key) => key.startsWith(prefix)).sort();
  }
}
