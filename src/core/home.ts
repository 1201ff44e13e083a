import { homedir, userInfo } from 'node:os';
import { isAbsolute } from 'node:path';

/**
 * The user's home directory: $HOME when it is an absolute path, else the account's (an empty
 * or relative HOME would otherwise put state under the current directory).
 */
export function userHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HOME && isAbsolute(env.HOME)) return env.HOME;
  try {
    return userInfo().homedir;
  } catch {
    return homedir();
  }
}
