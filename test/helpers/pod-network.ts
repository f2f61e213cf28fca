import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Reachability checks run inside a network namespace the test made (a pod sandbox's, or containerd's),
 * bounded in time: a quarantined address answers nothing, and the check must still end.
 */

/** One ping with a 1 s deadline: did an echo reply come back? */
export async function canPing(netnsPath: string, address: string): Promise<boolean> {
  try {
    await run('nsenter', [`--net=${netnsPath}`, 'ping', '-c', '1', '-W', '1', '-q', address], {
      timeout: 5000,
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * An HTTP GET with a 2 s deadline, by a Node process in the namespace (Debian's static busybox wget
 * crashes on this machine): did the page come?
 */
export async function canFetch(netnsPath: string, url: string): Promise<boolean> {
  const script =
    "require('http').get(process.argv[1], { timeout: 2000 }, (r) => { let b = ''; r.on('data', (d) => { b += d; });" +
    " r.on('end', () => { process.stdout.write(b); process.exit(0); }); })" +
    ".on('timeout', () => process.exit(2)).on('error', () => process.exit(1));";
  try {
    const { stdout } = await run('nsenter', [`--net=${netnsPath}`, process.execPath, '-e', script, url], {
      timeout: 8000,
    });
    return stdout.includes('kernwatch-test-page');
  } catch {
    return false;
  }
}

/** The container command of a pod serving `kernwatch-test-page` on port 8080 with busybox httpd. */
export const TEST_PAGE_SERVER = [
  '/bin/sh',
  '-c',
  'mkdir -p /www && echo kernwatch-test-page > /www/index.html && exec httpd -f -p 8080 -h /www',
];
